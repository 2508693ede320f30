"""Datasets that ship inside installed packages (no download), and loaders for users' own data."""

from .folder import load_image_folder
from .mnist import load_mnist
from .photos import TEST_SPLIT, TRAIN_PHOTOS, load_photo, test_photos, training_photos

__all__ = ["load_mnist", "load_image_folder", "load_photo", "training_photos", "test_photos",
           "TRAIN_PHOTOS", "TEST_SPLIT"]
