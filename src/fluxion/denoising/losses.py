"""Self-supervised losses: the blind-spot MSE and Neighbor2Neighbor (Huang et al. 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["blind_spot_loss", "n2n_loss", "neighbor_subsample"]

_NEIGHBOUR_PAIRS = torch.tensor([(0, 1), (1, 0), (0, 2), (2, 0), (1, 3), (3, 1), (2, 3), (3, 2)])


def neighbor_subsample(images: torch.Tensor, choice: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbor2Neighbor sub-sampling: from every 2x2 cell take two adjacent pixels.

    ``images`` is (B, C, H, W) with even H, W; ``choice`` (B, 1, H/2, W/2) holds integers in
    [0, 8) picking one of the 8 ordered adjacent pairs of a cell. Returns g1, g2, each
    (B, C, H/2, W/2). The same ``choice`` applied to f(y) gives g1(f(y)) and g2(f(y)).
    """
    # (B, 4C, H/2, W/2); per channel the cell pixels (0,0) (0,1) (1,0) (1,1)
    cells = F.pixel_unshuffle(images, 2)
    b, c4, h, w = cells.shape
    cells = cells.view(b, c4 // 4, 4, h, w)
    pairs = _NEIGHBOUR_PAIRS.to(choice.device)[choice.long()]  # (B, 1, h, w, 2)
    first = pairs[..., 0].unsqueeze(2).expand(b, c4 // 4, 1, h, w)
    second = pairs[..., 1].unsqueeze(2).expand(b, c4 // 4, 1, h, w)
    return cells.gather(2, first).squeeze(2), cells.gather(2, second).squeeze(2)


def blind_spot_loss(net: torch.nn.Module, windows: torch.Tensor) -> torch.Tensor:
    """MSE between the prediction and the noisy middle frame it could not see."""
    middle = windows.shape[1] // 2
    return F.mse_loss(net(windows).float(), windows[:, middle:middle + 1].float())


def n2n_loss(net: torch.nn.Module, noisy: torch.Tensor, gamma: float,
             generator: torch.Generator) -> torch.Tensor:
    """|f(g1 y) - g2 y|^2 + gamma |f(g1 y) - g2 y - (g1 f(y) - g2 f(y))|^2 (Huang et al.)."""
    b, _, h, w = noisy.shape
    choice = torch.randint(0, 8, (b, 1, h // 2, w // 2), generator=generator).to(noisy.device)
    g1, g2 = neighbor_subsample(noisy, choice)
    with torch.no_grad():
        g1_full, g2_full = neighbor_subsample(net(noisy).float(), choice)
    out = net(g1).float()
    diff = out - g2.float()
    return (diff**2).mean() + gamma * ((diff - (g1_full - g2_full)) ** 2).mean()
