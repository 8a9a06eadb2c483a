"""fluxion.analysis.physics: the study's knock-on numbers."""

from __future__ import annotations

import numpy as np
import pytest

from fluxion.analysis.physics import (
    beam_jump_rate,
    crossover_energy,
    knock_on_cross_section,
    knock_on_max_energy,
    thermal_jump_rate,
)
from fluxion.errors import ParameterError


def test_max_energy_transfer_to_pt_at_300_kv_is_4_37_ev():
    assert knock_on_max_energy(300, 195.08) == pytest.approx(4.37, abs=0.005)
    assert knock_on_max_energy(80, 195.08) < 1.1  # lower voltage, smaller transfer


def test_cross_section_is_rutherford_like_and_vanishes_above_emax():
    emax = knock_on_max_energy()
    sigma = knock_on_cross_section(np.array([0.5, 1.0, 4.0, emax + 0.1]))
    assert np.all(np.diff(sigma) < 0) and sigma[-1] == 0.0
    # 0.2494 Z^2 (1 - b^2) / b^4 (Emax / Ea - 1) barn (Egerton)
    beta2 = 1 - 1 / (1 + 300 / 510.999) ** 2
    expected = 0.2494e-28 * 78**2 * (1 - beta2) / beta2**2 * (emax / 1.0 - 1)
    assert sigma[1] == pytest.approx(expected, rel=2e-3)
    assert knock_on_cross_section(1.0, mckinley_feshbach=True) > sigma[1]


def test_rates_and_their_crossover_near_0_7_ev():
    crossover = crossover_energy()
    assert 0.6 < crossover < 0.8
    assert beam_jump_rate(crossover) == pytest.approx(thermal_jump_rate(crossover), rel=1e-4)
    assert beam_jump_rate(1.0, dose_rate=4000) == pytest.approx(2 * beam_jump_rate(1.0))
    assert thermal_jump_rate(0.0) == pytest.approx(1e12)
    assert crossover_energy(dose_rate=20000) < crossover  # more beam: it dominates from lower Ea


def test_bad_physics_input_is_refused():
    with pytest.raises(ParameterError):
        knock_on_max_energy(-1, 195)
    with pytest.raises(ParameterError):
        knock_on_cross_section(0.0)
    with pytest.raises(ParameterError):
        thermal_jump_rate(0.5, T_K=0)
