"""Images: ``tracklet.Image`` and conversion of numpy arrays to PIL images.

Pillow and numpy are optional (``pip install tracklet[images]``) and imported only here,
when an image is logged.
"""

from __future__ import annotations

import os
from typing import Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

_PREVIEW_SIZE = 256


def _pil() -> Any:
    try:
        from PIL import Image as PILImage
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Logging images needs Pillow: pip install 'tracklet[images]' (or pip install pillow numpy)"
        ) from e
    return PILImage


def convert_to_pil_image(image: Any) -> Any:
    """A PIL image from a PIL image, a :class:`Image`, a file path, a numpy array or nested lists.

    Arrays may be HxW, HxWx1, HxWx3 or HxWx4; bool, integers in [0, 255] or floats in [0, 1].
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
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise TrackletException(
            f"Invalid image shape {array.shape}: expected HxW, HxWx1, HxWx3 or HxWx4.",
            INVALID_PARAMETER_VALUE,
        )
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        if array.size and (array.min() < 0 or array.max() > 1):
            raise TrackletException(
                "Invalid image: float pixel values must be in [0, 1].", INVALID_PARAMETER_VALUE
            )
        array = (array * 255).round().astype(np.uint8)
    elif np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 255):
            raise TrackletException(
                "Invalid image: integer pixel values must be in [0, 255].", INVALID_PARAMETER_VALUE
            )
        array = array.astype(np.uint8)
    else:
        raise TrackletException(f"Invalid image dtype {array.dtype}.", INVALID_PARAMETER_VALUE)
    return PILImage.fromarray(array)


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
        """The image as nested lists."""
        return self.to_array().tolist()  # type: ignore[no-any-return]

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
