"""Figure helpers of days 25-27: human source names in titles, full class names on colour bars."""

import torch
from matplotlib.figure import Figure

from arena_core.generative.figures import image_grid, latent_scatter, source_label


def test_source_label_names_the_data_in_words():
    assert source_label("fashion_mnist") == "Fashion-MNIST"
    assert source_label("mnist") == "MNIST"
    assert source_label("some_other_set") == "some other set"  # never a code identifier


def test_latent_scatter_keeps_full_class_names():
    classes = ("T-shirt/top", "Trouser", "Ankle boot")
    fig = Figure()
    ax = fig.subplots()
    z = torch.randn(30, 2, generator=torch.Generator().manual_seed(0))
    latent_scatter(z, torch.arange(30) % 3, classes, "codes", ax)
    colour_bar = fig.axes[-1]
    assert [t.get_text() for t in colour_bar.get_yticklabels()] == list(classes)


def test_image_grid_tiles_images_with_one_pixel_borders():
    fig = Figure()
    ax = fig.subplots()
    image_grid(torch.ones(6, 1, 4, 4), nrow=3, ax=ax)
    picture = ax.images[0].get_array()
    assert picture.shape == (2 * 5 + 1, 3 * 5 + 1)
