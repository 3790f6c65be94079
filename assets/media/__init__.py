"""Server-side checks for media intake.

- `inspect(path, original_name=…, limits=…)`: what the file is and every way it breaks the
  upstream's limits (CONTRACT.md §3), as `Problem`s; never raises for bad input.
- `strip_location_metadata(path, orientation=…)`: removes GPS and device identity from the file,
  in place.
- `assets.media.pixels.decoded_picture(path, facts, side)`: decodes the picture before the paid
  call (in the worker: HEIC, pictures too large for the web worker, a video's key frames);
  raises MediaError when it can't be decoded. What a check may cost is in `bounds`.
- `assets.media.face.face_warnings(path, facts)`: the face pre-check (warnings only). Not
  imported here: it loads MediaPipe and numpy, which the rest does not need.
"""

from assets.media.checks import Inspection, check, inspect
from assets.media.facts import MediaError, MediaFacts, Problem, ProblemCode
from assets.media.limits import MediaLimits
from assets.media.privacy import MetadataError, strip_location_metadata
from assets.media.probe import probe

__all__ = [
    "Inspection",
    "MediaError",
    "MediaFacts",
    "MediaLimits",
    "MetadataError",
    "Problem",
    "ProblemCode",
    "check",
    "inspect",
    "probe",
    "strip_location_metadata",
]
