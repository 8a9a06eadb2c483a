"""Beam-driven versus thermal atom migration: is the fluxionality the electron beam's doing?

An electron of energy E0 can give a nucleus of mass M at most
``Emax = 2 E0 (E0 + 2 m0c^2) / (M c^2)`` (4.37 eV for Pt at 300 kV). The cross-section for
transfers above an activation energy Ea follows from Rutherford scattering; times the electron
flux it gives a beam-driven jump rate, to compare with the thermal rate A exp(-Ea / kT). The
defaults are the reference study's conditions: Pt, 300 kV, 2000 e/A^2/s, 300 K, A = 1e12 Hz.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from fluxion.errors import ParameterError

__all__ = [
    "beam_jump_rate",
    "crossover_energy",
    "knock_on_cross_section",
    "knock_on_max_energy",
    "thermal_jump_rate",
]

ELECTRON_REST_EV = 510_998.95          # m0 c^2
ATOMIC_MASS_EV = 931.494_102_42e6      # u c^2
BOHR_RADIUS_M = 5.291_772_109e-11
RYDBERG_EV = 13.605_693_122
BOLTZMANN_EV = 8.617_333_262e-5        # eV / K
FINE_STRUCTURE = 1 / 137.035_999
PT_MASS_U, PT_Z = 195.084, 78


def knock_on_max_energy(E0_keV: float = 300.0, mass_u: float = PT_MASS_U) -> float:
    """Largest energy (eV) an electron of E0 keV transfers to a nucleus of ``mass_u`` u."""
    if E0_keV <= 0 or mass_u <= 0:
        raise ParameterError(f"E0_keV and mass_u must be > 0, got {E0_keV}, {mass_u}.")
    e0 = E0_keV * 1e3
    return 2 * e0 * (e0 + 2 * ELECTRON_REST_EV) / (mass_u * ATOMIC_MASS_EV)


def _beta2(E0_keV: float) -> float:
    gamma = 1 + E0_keV * 1e3 / ELECTRON_REST_EV
    return 1 - 1 / gamma**2


def knock_on_cross_section(Ea_eV: float | np.ndarray, *, E0_keV: float = 300.0,
                           mass_u: float = PT_MASS_U, Z: int = PT_Z,
                           mckinley_feshbach: bool = False) -> float | np.ndarray:
    """Cross-section (m^2) for energy transfers above ``Ea_eV``; zero above Emax.

    Rutherford (relativistic, screened-free): 4 pi a0^2 Z^2 (U_R / m0c^2)^2 (1 - b^2) / b^4
    (Emax / Ea - 1). ``mckinley_feshbach=True`` adds the McKinley-Feshbach corrections
    (-b^2 ln(Emax/Ea) + pi alpha Z b [2 (sqrt(Emax/Ea) - 1) - ln(Emax/Ea)]).
    """
    ea = np.asarray(Ea_eV, np.float64)
    if np.any(ea <= 0):
        raise ParameterError("activation energies must be > 0 eV.")
    beta2 = _beta2(E0_keV)
    ratio = knock_on_max_energy(E0_keV, mass_u) / ea
    bracket = ratio - 1
    if mckinley_feshbach:
        beta = np.sqrt(beta2)
        bracket = bracket - beta2 * np.log(ratio) + np.pi * FINE_STRUCTURE * Z * beta * (
            2 * (np.sqrt(ratio) - 1) - np.log(ratio))
    prefactor = (4 * np.pi * BOHR_RADIUS_M**2 * Z**2 * (RYDBERG_EV / ELECTRON_REST_EV) ** 2
                 * (1 - beta2) / beta2**2)
    sigma = np.where(ratio > 1, prefactor * bracket, 0.0)
    return float(sigma) if np.ndim(sigma) == 0 else sigma


def beam_jump_rate(Ea_eV: float | np.ndarray, *, dose_rate: float = 2000.0,
                   E0_keV: float = 300.0, mass_u: float = PT_MASS_U, Z: int = PT_Z,
                   mckinley_feshbach: bool = False) -> float | np.ndarray:
    """Beam-driven jump rate (1/s) = cross-section x flux; ``dose_rate`` in e/A^2/s."""
    flux = dose_rate * 1e20  # electrons per m^2 per s
    return knock_on_cross_section(Ea_eV, E0_keV=E0_keV, mass_u=mass_u, Z=Z,
                                  mckinley_feshbach=mckinley_feshbach) * flux


def thermal_jump_rate(Ea_eV: float | np.ndarray, *, T_K: float = 300.0,
                      attempt_hz: float = 1e12) -> float | np.ndarray:
    """Thermally activated jump rate (1/s), A exp(-Ea / kT)."""
    if T_K <= 0:
        raise ParameterError(f"T_K must be > 0 K, got {T_K}.")
    rate = attempt_hz * np.exp(-np.asarray(Ea_eV, np.float64) / (BOLTZMANN_EV * T_K))
    return float(rate) if np.ndim(rate) == 0 else rate


def crossover_energy(*, dose_rate: float = 2000.0, E0_keV: float = 300.0,
                     mass_u: float = PT_MASS_U, Z: int = PT_Z, T_K: float = 300.0,
                     attempt_hz: float = 1e12, mckinley_feshbach: bool = False) -> float:
    """Activation energy (eV) where beam-driven and thermal jump rates are equal: below it,
    thermal hops dominate; above it (up to Emax), the beam drives the motion."""
    emax = knock_on_max_energy(E0_keV, mass_u)

    def log_ratio(ea: float) -> float:
        return float(np.log(beam_jump_rate(ea, dose_rate=dose_rate, E0_keV=E0_keV,
                                           mass_u=mass_u, Z=Z,
                                           mckinley_feshbach=mckinley_feshbach))
                     - np.log(thermal_jump_rate(ea, T_K=T_K, attempt_hz=attempt_hz)))

    low, high = 1e-3, emax * (1 - 1e-9)
    if log_ratio(low) > 0 or log_ratio(high) < 0:
        raise ParameterError("the beam and thermal rates do not cross below Emax "
                             f"({emax:.2f} eV) for these conditions.")
    return float(brentq(log_ratio, low, high, xtol=1e-6))
