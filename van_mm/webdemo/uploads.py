# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Which uploads the demo page takes, and what it says about the others.

:func:`read_upload` turns the bytes of an uploaded file into an RGB image,
with notes on what it converted, or raises an :class:`UploadError` whose
message says what is wrong and what to do; the page shows it. No model is
needed here.
"""
import io
from http import HTTPStatus
from typing import List, Tuple

import numpy as np

MAX_BYTES = 20 * 2**20  # largest upload
MAX_SIDE = 4096  # largest width or height, in pixels
MIN_SIDE = 16  # smallest width or height
FORMATS = ('JPEG', 'PNG', 'BMP', 'WEBP', 'TIFF')  # what tools/demo.py reads
ORIENTATION = 0x0112  # EXIF tag
SAVE_AS = 'Save it as an 8-bit RGB (or grey) JPEG or PNG and drop it again.'

# Modes refused, and why (Pillow's mode names).
REFUSED_MODES = {
    'P': 'a palette (indexed-colour) image: label maps and annotations are '
         'stored this way, the models take photographs',
    'PA': 'a palette (indexed-colour) image with transparency',
    '1': 'a 1-bit black-and-white image (a mask?)',
    'CMYK': 'a CMYK (print) image: its RGB colours depend on a colour '
            'profile the demo does not apply',
    'I;16': 'a 16-bit grey image: the models take 8 bits, and which range '
            'of values to keep is your choice',
    'I': 'a 32-bit integer image: the models take 8 bits',
    'F': 'a 32-bit floating-point image: the models take 8 bits',
}


class UploadError(ValueError):
    """An upload the demo does not take; ``status`` is the HTTP status to
    answer with."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = int(status)


def too_large(size: int, max_bytes: int = MAX_BYTES) -> str:
    """The message for an upload of ``size`` bytes over ``max_bytes``."""
    return (f'The file is too large: {size / 2**20:.1f} MiB, the demo takes '
            f'up to {max_bytes / 2**20:.0f} MiB.')


def read_upload(data: bytes, max_bytes: int = MAX_BYTES,
                max_side: int = MAX_SIDE) -> Tuple[np.ndarray, List[str]]:
    """The uploaded file ``data`` as an RGB uint8 array (H, W, 3), and notes
    on what was converted.

    Taken: JPEG, PNG, BMP, WebP and TIFF in 8-bit RGB, 8-bit grey
    (repeated into R, G and B) and RGBA/LA whose alpha is opaque everywhere
    (dropped); turned upright as its EXIF orientation says (as OpenCV's
    ``imread`` does for ``tools/demo.py``). Refused with a message: other
    files, more than ``max_bytes``, a side over ``max_side`` or under
    :data:`MIN_SIDE`, several frames, transparency, and the modes of
    :data:`REFUSED_MODES` (16-bit, CMYK, palette, 1-bit, ...).

    Raises:
        UploadError: What is wrong with the upload, and what to do.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    if not data:
        raise UploadError('The upload is empty.')
    if len(data) > max_bytes:
        raise UploadError(too_large(len(data), max_bytes),
                          HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UploadError(
            'This is not an image the demo can read: it takes JPEG, PNG, '
            'BMP, WebP and TIFF files.', HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    except Image.DecompressionBombError as e:
        raise UploadError(f'The image is too large: {e}',
                          HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    except (OSError, SyntaxError, ValueError) as e:  # a broken header
        raise UploadError(f'The image is corrupt or cut short ({e}).')
    if image.format not in FORMATS:
        raise UploadError(
            f'{image.format} images are not taken: JPEG, PNG, BMP, WebP and '
            'TIFF are.', HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    width, height = image.size
    if max(width, height) > max_side:
        raise UploadError(
            f'The image is too large: {width}x{height} pixels, the demo '
            f'takes up to {max_side} on a side. Scale it down first.',
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    if min(width, height) < MIN_SIDE:
        raise UploadError(f'The image is too small: {width}x{height} '
                          f'pixels, the demo needs {MIN_SIDE} on a side.')
    frames = getattr(image, 'n_frames', 1)
    if frames > 1:
        raise UploadError(f'The file holds {frames} frames (an animation '
                          'or a multi-page file): save the one picture to '
                          'run on.')
    mode = image.mode
    # Pillow reads 16-bit RGB(A) PNG and TIFF as 8-bit modes, saying so
    # only in the raw mode of its tiles (BMP's 'BGR;16' is 5-6-5, 8 bits
    # a channel or less)
    sixteen = image.format in ('PNG', 'TIFF') and any(
        ';16' in str(tile[-1]) for tile in image.tile)
    if mode.startswith('I;16') or sixteen:
        raise UploadError(
            f'The image is {16 * len(image.getbands())}-bit ({mode} with '
            '16 bits a channel): the models take 8 bits a channel, and how '
            f'to bring it down (range, gamma) is your choice. {SAVE_AS}')
    if mode in REFUSED_MODES:
        raise UploadError(f'The image is {REFUSED_MODES[mode]}. {SAVE_AS}')
    if mode not in ('RGB', 'L', 'RGBA', 'LA'):
        raise UploadError(f'The image has colour mode {mode!r}, which the '
                          f'demo does not convert. {SAVE_AS}')
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise UploadError(f'The image is corrupt or cut short ({e}).')
    notes = []
    if image.getexif().get(ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
        notes.append('Turned upright as its EXIF orientation says.')
    if mode in ('RGBA', 'LA'):
        low, _ = image.getchannel('A').getextrema()
        if low < 255:
            raise UploadError(
                'The image has transparent pixels: what lies under them is '
                'undefined, and the models see it. Flatten it onto a '
                f'background first. {SAVE_AS}')
        notes.append(f'{mode}: the alpha channel is opaque everywhere and '
                     'was dropped.')
    if mode in ('L', 'LA'):
        notes.append('A grey image: its grey was repeated into R, G and B.')
    return np.asarray(image.convert('RGB')), notes
