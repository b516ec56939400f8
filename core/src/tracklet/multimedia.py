"""Images: ``tracklet.Image`` and conversion of numpy arrays to PIL images.

Pillow and numpy are optional (the ``images`` extra: ``pip install pillow numpy``) and
imported only here, when an image is logged.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

_PREVIEW_SIZE = 256


def _pil() -> Any:
    try:
        from PIL import Image as PILImage
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Logging images needs Pillow and numpy: pip install pillow numpy (tracklet's 'images' "
            "extra; from a clone of the tracklet repository: pip install './core[images]')"
        ) from e
    return PILImage


_ARRAY_KINDS = {"b": "bool", "i": "signed integer", "u": "unsigned integer", "f": "floating"}


def convert_to_pil_image(image: Any) -> Any:
    """A PIL image from a PIL image, a :class:`Image`, a file path, a numpy array or nested lists.

    Arrays follow MLflow's rules: HxW, HxWx1, HxWx3 or HxWx4; bool, integers in [0, 255]
    (others raise ValueError) or floats in [0, 1] (others are min-max rescaled, with a
    warning); floats become ``uint8`` by ``x * 255`` truncated, as MLflow does.
    """
    PILImage = _pil()
    if isinstance(image, Image):
        return image.to_pil()
    if isinstance(image, PILImage.Image):
        return image
    if isinstance(image, (str, os.PathLike)):
        with PILImage.open(image) as opened:
            opened.load()
            return opened.copy()
    import numpy as np

    array = np.asarray(image)
    if array.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(
            f"Invalid array data type: '{array.dtype}'. Must be one of {list(_ARRAY_KINDS.values())}"
        )
    if array.ndim not in (2, 3):
        raise ValueError(f"`image` must be a 2D or 3D array but got image shape: {array.shape}")
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise ValueError(f"Invalid channel length: {array.shape[2]}. Must be one of [1, 3, 4]")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return PILImage.fromarray(_to_uint8(array))


def _to_uint8(array: Any) -> Any:
    import numpy as np

    is_int = np.issubdtype(array.dtype, np.integer)
    high = 255 if is_int else 1
    if array.size and (array.min() < 0 or array.max() > high):
        if is_int:
            raise ValueError(
                "Integer pixel values out of acceptable range [0, 255]. "
                f"Found minimum value {array.min()} and maximum value {array.max()}. "
                "Ensure all pixel values are within the specified range."
            )
        warnings.warn(
            "Float pixel values out of acceptable range [0.0, 1.0]. "
            f"Found minimum value {array.min()} and maximum value {array.max()}. "
            "Rescaling values to [0.0, 1.0] with min/max scaler.",
            stacklevel=3,
        )
        array = (array - array.min()) / (array.max() - array.min())
    if not is_int:
        array = array * 255
    return array.astype(np.uint8)


def compress_image_size(image: Any, max_size: int = _PREVIEW_SIZE) -> Any:
    """A preview copy of a PIL image whose longer side is ``max_size`` (aspect kept; small
    images are enlarged, as MLflow does, so previews line up in the UI)."""
    width, height = image.size
    if width > height:
        size = (max_size, max(1, int(height * max_size / width)))
    else:
        size = (max(1, int(width * max_size / height)), max_size)
    return image.resize(size)


class Image:
    """An image to log, from a PIL image, a file path, a numpy array or nested lists (``mlflow.Image``)."""

    def __init__(self, image: Any) -> None:
        self._image = convert_to_pil_image(image)

    def to_pil(self) -> Any:
        """The PIL image."""
        return self._image

    def to_array(self) -> Any:
        """The image as a numpy array."""
        import numpy as np

        return np.asarray(self._image)

    def to_list(self) -> list[Any]:
        """The pixel values, row after row, as MLflow gives them: one value per pixel
        (a tuple of channels for RGB/RGBA images)."""
        flat = getattr(self._image, "get_flattened_data", None)  # Pillow >= 12; getdata before
        return list(flat() if flat is not None else self._image.getdata())

    def save(self, path: str) -> None:
        """Write the image (format from the file extension)."""
        self._image.save(path)

    def resize(self, size: tuple[int, int]) -> Image:
        """A resized copy."""
        return Image(self._image.resize(size))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self._image.size  # type: ignore[no-any-return]
