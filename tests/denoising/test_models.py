"""fluxion.denoising.models: the blind spot (by autograd), shapes for any H x W, the published
size."""

from __future__ import annotations

import pytest
import torch

from fluxion.denoising.models import UDVD, GaussianDenoiser, N2NUNet, build_model
from fluxion.denoising.models.blind import BlindConv, BlindPool
from fluxion.denoising.models.checkpoint import load_denoiser, save_denoiser
from fluxion.errors import CheckpointError, ModelNotFoundError, ParameterError


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    """Double precision with large random weights, so no gradient is zero by accident."""
    model = model.double()
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return model


@pytest.mark.parametrize("frames, shape, pixel", [(5, (23, 18), (11, 7)), (1, (20, 20), (0, 0)),
                                                  (5, (16, 24), (15, 23)), (1, (17, 30), (8, 29))])
def test_output_pixel_never_depends_on_the_same_input_pixel(frames, shape, pixel):
    model = _randomised(UDVD(frames=frames, width=4, triplet_channels=4))
    x = torch.randn(1, frames, *shape, dtype=torch.float64, requires_grad=True)
    i, j = pixel
    model(x)[0, 0, i, j].backward()
    grad = x.grad[0]
    assert torch.all(grad[:, i, j] == 0)  # exactly zero, in every frame
    neighbours = [(i + di, j + dj) for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
                  if 0 <= i + di < shape[0] and 0 <= j + dj < shape[1]]
    for a, b in neighbours:
        assert grad[frames // 2, a, b].abs() > 0
    assert (grad.abs() > 0).double().mean() > 0.5  # it does read (almost) everything else


def test_blind_layers_only_look_up():
    conv, pool = _randomised(BlindConv(1, 1, activate=False)), BlindPool()
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    conv(x)[0, 0, 4, 4].backward()
    rows = x.grad[0, 0].abs().sum(dim=1)
    assert rows[5:].sum() == 0 and rows[2:5].min() > 0
    x.grad = None
    pool(x)[0, 0, 2, 2].backward()  # pooled row 2 reads input rows 3 and 4
    rows = x.grad[0, 0].abs().sum(dim=1)
    assert rows[5:].sum() == 0 and rows[:3].sum() == 0 and rows[3:5].sum() > 0


@pytest.mark.parametrize("model", [UDVD(width=4, triplet_channels=4), UDVD(frames=1, width=4),
                                   N2NUNet(width=4, depth=3), GaussianDenoiser(2.0)],
                         ids=["udvd", "udvd-single", "n2n", "gaussian"])
@pytest.mark.parametrize("shape", [(33, 47), (64, 40), (9, 13)])
def test_any_frame_size_gives_one_output_frame(model, shape):
    out = model(torch.rand(2, model.frames, *shape))
    assert out.shape == (2, 1, *shape) and out.dtype == torch.float32


def test_published_widths_give_about_two_million_parameters():
    count = sum(p.numel() for p in UDVD(frames=5, width=48, triplet_channels=32).parameters())
    assert 2.0e6 < count < 2.2e6


def test_gaussian_baseline_matches_scipy():
    from scipy import ndimage

    image = torch.rand(1, 1, 40, 50)
    expected = ndimage.gaussian_filter(image[0, 0].numpy().astype(float), 2.0, mode="mirror",
                                       truncate=4.0)
    out = GaussianDenoiser(2.0)(image)[0, 0].numpy()
    assert abs(out - expected).max() < 1e-5


def test_count_scaling_maps_counts_to_counts():
    model = GaussianDenoiser(1.0)
    model.set_count_scale(5.0, 2.0)
    flat = torch.full((1, 1, 16, 16), 5.0)
    assert torch.allclose(model(flat), flat)


@pytest.mark.parametrize("bad, message", [
    (torch.rand(5, 32, 32), "batch, frames, height, width"),
    (torch.rand(1, 3, 32, 32), "reads 5 frame"),
    (torch.randint(0, 5, (1, 5, 32, 32)), "floating-point"),
])
def test_bad_input_is_refused(bad, message):
    with pytest.raises(ParameterError, match=message):
        UDVD(width=4, triplet_channels=4)(bad)


def test_build_model_and_checkpoint_round_trip(tmp_path):
    model = build_model("udvd-single", width=4)
    assert model.frames == 1 and model.spec == {
        "method": "udvd-single", "architecture": {"frames": 1, "width": 4,
                                                  "triplet_channels": 32}}
    model.set_count_scale(3.0, 1.5)
    save_denoiser(tmp_path / "m.pt", model, note="hello")
    loaded, extra = load_denoiser(tmp_path / "m.pt")
    x = torch.rand(1, 1, 20, 24)
    assert torch.equal(loaded(x), model.eval()(x)) and extra == {"note": "hello"}
    with pytest.raises(ParameterError, match="unknown denoising method"):
        build_model("bm3d")
    with pytest.raises(ParameterError, match="frames must be odd"):
        UDVD(frames=4)


def test_a_missing_or_corrupt_model_file_is_named_with_the_right_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"m\.pt: no trained model here") as info:
        load_denoiser(tmp_path / "m.pt")
    assert isinstance(info.value, FileNotFoundError)
    (tmp_path / "m.pt").write_bytes(b"\x80\x04 not a model")
    with pytest.raises(CheckpointError, match=r"m\.pt: not a readable Fluxion model file"):
        load_denoiser(tmp_path / "m.pt")
