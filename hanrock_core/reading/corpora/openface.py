"""OpenFace 2.x FeatureExtraction CSVs: read per-frame action units, aggregate per talkturn.

A talkturn's values come from the valid frames with start <= timestamp <= end, where valid means
`success == 1` and `confidence >= min_confidence`.  Intensities (`_r`) are averaged; presence
(`_c`) holds when every valid frame has it; a smile is an AU06_c & AU12_c run of >= 0.5 s.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.base.input_files import is_hidden, numbers, read_tool_csv, visible
from hanrock_core.base.notices import Notices, ensure
from hanrock_core.reading.talkturn import missing_column

AU_INTENSITY = ("AU05_r", "AU17_r", "AU20_r", "AU25_r")
AU_PRESENCE = ("AU05_c", "AU17_c", "AU20_c", "AU25_c", "AU06_c", "AU12_c")
REQUIRED = ("frame", "timestamp", "confidence", "success") + AU_INTENSITY + AU_PRESENCE
POSE = ("pose_Tz", "y_30")  # head distance and nose height: lean forward and head nod
# what OpenFace can write: pose_Tz is the head's distance from the camera in mm, y_30 a landmark's
# row in pixels; beyond these bounds a value is damage (an overflowed number), not a face
POSE_BOUNDS = {"pose_Tz": (-100_000.0, 100_000.0, "mm"), "y_30": (-100_000.0, 100_000.0, "pixels")}
OPTIONAL = ("face_id",) + POSE
MIN_CONFIDENCE = 0.75
SMILE_MIN_S = 0.5
NOD_MIN_PX = 4.0  # vertical nose travel that counts as one nod stroke
LEAN_MIN_MM = 25.0  # movement towards the camera that counts as leaning forward


IMAGE_FOLDER_HINT = (
    "OpenFace writes timestamp 0 on every frame when it reads an image folder (-fdir): re-run "
    "FeatureExtraction on the video (-f), or give the frame rate (`hanrock load ... --openface-fps 30`, "
    "or `openface_fps: 30` under the dataset in hanrock.yaml) to rebuild timestamps from `frame`"
)


def read_openface_csv(path: str | Path, fps: float | None = None) -> pd.DataFrame:
    """Read and check one FeatureExtraction CSV; columns are returned without leading spaces.

    With `fps`, timestamps are rebuilt as (frame - 1) / fps, for output of an image folder.
    """
    path = Path(path)
    frames = read_tool_csv(path, "OpenFace", REQUIRED, hint="run FeatureExtraction with -aus (2.x output)")
    keep = [c for c in REQUIRED + OPTIONAL if c in frames.columns]
    frames = frames[keep].copy()
    if "face_id" in frames and frames["face_id"].nunique() > 1:
        raise InputError(
            "several faces (face_id) in one file",
            path,
            column="face_id",
            hint="give each speaker their own FeatureExtraction file",
        )
    _check_numeric(frames, path, fps)
    return frames


def _first_bad_line(mask: np.ndarray) -> int:
    """File line of the first flagged frame (line 1 is the header)."""
    return int(np.flatnonzero(mask)[0]) + 2


def _check_times(frames: pd.DataFrame, path: Path, fps: float | None) -> None:
    """Timestamps are finite, never go backwards and do increase (or are rebuilt from `frame` at `fps`)."""
    frame_no = numbers(frames["frame"], path, "frame", "frame number", integer=True).to_numpy()
    if np.isnan(frame_no).any():
        raise InputError("frame number is missing", path, _first_bad_line(np.isnan(frame_no)), "frame")
    if fps is not None:
        if np.any(np.diff(frame_no) <= 0):
            line = _first_bad_line(np.r_[False, np.diff(frame_no) <= 0])
            raise InputError("frame numbers must increase to rebuild timestamps from them", path, line, "frame")
        frames["timestamp"] = (frame_no - 1.0) / fps
        return
    ts = numbers(frames["timestamp"], path, "timestamp", "timestamp").to_numpy()
    if np.isnan(ts).any():
        raise InputError("timestamp is missing", path, _first_bad_line(np.isnan(ts)), "timestamp")
    back = np.diff(ts) < 0
    if back.any():
        line = _first_bad_line(np.r_[False, back])
        raise InputError("timestamps go backwards", path, line, "timestamp", hint="frames must be in time order")
    if len(ts) > 1 and ts[-1] == ts[0]:
        raise InputError(
            f"timestamps never increase (all {len(ts)} frames at {ts[0]:g} s)",
            path,
            2,
            "timestamp",
            hint=IMAGE_FOLDER_HINT,
        )
    frames["timestamp"] = ts


def _check_tracking(frames: pd.DataFrame, path: Path) -> np.ndarray:
    """`success` is 0/1 and `confidence` in 0..1 on every frame; returns which frames succeeded."""
    success = numbers(frames["success"], path, "success", "success flag").to_numpy()
    bad = ~np.isin(success, (0.0, 1.0))
    if bad.any():
        raise InputError(
            f"success {frames['success'].iloc[int(np.flatnonzero(bad)[0])]!r} is not 0 or 1",
            path,
            _first_bad_line(bad),
            "success",
        )
    confidence = numbers(frames["confidence"], path, "confidence", "confidence").to_numpy()
    bad = ~((confidence >= 0) & (confidence <= 1))
    if bad.any():
        raise InputError(
            f"confidence {confidence[bad][0]} is missing or outside 0..1", path, _first_bad_line(bad), "confidence"
        )
    frames["success"], frames["confidence"] = success, confidence
    return success == 1


def _check_numeric(frames: pd.DataFrame, path: Path, fps: float | None = None) -> None:
    """Times make sense, tracking flags are valid, and successful frames carry AU values in range."""
    if len(frames) == 0:
        raise InputError(
            "the OpenFace CSV has a header but no frames",
            path,
            2,
            hint="re-run FeatureExtraction, or remove the file if that speaker has no video",
        )
    _check_times(frames, path, fps)
    ok = _check_tracking(frames, path)
    for name in AU_INTENSITY + AU_PRESENCE + tuple(c for c in POSE if c in frames):
        frames[name] = pd.to_numeric(frames[name], errors="coerce")
    for name in AU_INTENSITY:
        values = frames[name].to_numpy(dtype=float)
        bad = ok & ~((values >= 0) & (values <= 5))
        if bad.any():
            raise InputError(f"AU intensity {values[bad][0]} is NaN or outside 0..5", path, _first_bad_line(bad), name)
    for name in AU_PRESENCE:
        values = frames[name].to_numpy(dtype=float)
        bad = ok & ~np.isin(values, (0.0, 1.0))
        if bad.any():
            raise InputError(f"AU presence {values[bad][0]} is not 0 or 1", path, _first_bad_line(bad), name)
    for name in POSE:
        if name in frames:
            values = frames[name].to_numpy(dtype=float)
            bad = ok & ~np.isfinite(values)
            if bad.any():
                raise InputError(
                    f"{name} is missing or not a finite number in a successful frame", path, _first_bad_line(bad), name
                )
            low, high, unit = POSE_BOUNDS[name]
            bad = ok & ((values < low) | (values > high))
            if bad.any():
                raise InputError(
                    f"{name} {values[bad][0]:g} is beyond what OpenFace writes ({unit}, between {low:g} and "
                    f"{high:g}): the file is damaged",
                    path,
                    _first_bad_line(bad),
                    name,
                    hint="run FeatureExtraction again on that video, or restore the file",
                )


def _longest_run_s(flags: np.ndarray, frame_s: float) -> float:
    """Duration of the longest run of consecutive True frames."""
    if not flags.any():
        return 0.0
    padded = np.r_[0, flags.astype(np.int8), 0]
    edges = np.flatnonzero(np.diff(padded))
    return float((edges[1::2] - edges[0::2]).max()) * frame_s


def _nodded(y: np.ndarray) -> bool:
    """Two or more vertical strokes of the nose of at least NOD_MIN_PX each."""
    if len(y) < 3:
        return False
    strokes, anchor, direction = 0, y[0], 0
    for value in y[1:]:
        step = value - anchor
        if abs(step) >= NOD_MIN_PX:
            new_dir = 1 if step > 0 else -1
            if new_dir != direction:
                strokes += 1
                direction = new_dir
            anchor = value
        elif (value - anchor) * direction > 0:
            anchor = value
    return strokes >= 2


def aggregate_talkturns(
    frames: pd.DataFrame, starts: np.ndarray, ends: np.ndarray, min_confidence: float = MIN_CONFIDENCE
) -> pd.DataFrame:
    """Per-talkturn features from one speaker's frames; rows follow `starts`/`ends`."""
    valid = (frames["success"].to_numpy() == 1) & (frames["confidence"].to_numpy(dtype=float) >= min_confidence)
    frames = frames[valid]
    ts = frames["timestamp"].to_numpy(dtype=float)
    frame_s = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.0
    lo = np.searchsorted(ts, starts, side="left")
    hi = np.searchsorted(ts, ends, side="right")
    n = hi - lo
    has = n > 0
    out: dict[str, object] = {"openface_frames": pd.array(n, dtype="Int64")}
    for name in AU_INTENSITY:
        csum = np.r_[0.0, np.cumsum(frames[name].to_numpy(dtype=float))]
        mean = np.where(has, (csum[hi] - csum[lo]) / np.maximum(n, 1), np.nan)
        out[name[:4].lower() + "_r"] = mean
    presence = {}
    for name in AU_PRESENCE:
        absent = np.r_[0, np.cumsum(frames[name].to_numpy(dtype=float) != 1)]
        presence[name] = has & ((absent[hi] - absent[lo]) == 0)
    for name in AU_PRESENCE[:4]:
        out[name[:4].lower() + "_c"] = _masked_bool(presence[name], has)
    out["positive_expression"] = _masked_bool(presence["AU12_c"], has)
    both = (frames["AU06_c"].to_numpy() == 1) & (frames["AU12_c"].to_numpy() == 1)
    smile = np.array([_longest_run_s(both[a:b], frame_s) >= SMILE_MIN_S - 1e-9 for a, b in zip(lo, hi)])
    out["smile"] = _masked_bool(smile, has)
    if "y_30" in frames:
        y = frames["y_30"].to_numpy(dtype=float)
        out["head_nod"] = _masked_bool(np.array([_nodded(y[a:b]) for a, b in zip(lo, hi)]), has)
    if "pose_Tz" in frames:
        z = frames["pose_Tz"].to_numpy(dtype=float)
        lean = np.array([_leaned(z[a:b]) for a, b in zip(lo, hi)])
        out["lean_forward"] = _masked_bool(lean, has)
    return pd.DataFrame(out)


def _leaned(z: np.ndarray) -> bool:
    """Head distance to the camera falls by LEAN_MIN_MM from the turn's first to its last third."""
    if len(z) < 3:
        return False
    third = max(1, len(z) // 3)
    return float(np.mean(z[:third]) - np.mean(z[-third:])) >= LEAN_MIN_MM


def _masked_bool(values: np.ndarray, has: np.ndarray) -> pd.arrays.BooleanArray:
    """Boolean feature that is missing for talkturns without valid frames."""
    return pd.arrays.BooleanArray(values.astype(bool), ~has)


def attach_openface(
    table: pd.DataFrame,
    files: dict[tuple[str, str], Path],
    min_confidence: float = MIN_CONFIDENCE,
    folder: str | Path | None = None,
    fps: float | None = None,
    notices: Notices | None = None,
    required: bool = False,
    skipped_names: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Fill the OpenFace feature columns of `table` from per-(dialogue, speaker) CSV files in `folder`.

    No folder: features stay missing (said once).  A folder that lacks some speakers' files, or holds
    files that match no talkturns, is reported; `required` (a folder the user named) must exist.
    `skipped_names` are files of sessions (or sides) the reader left out, already reported.
    """
    notices = ensure(notices)
    folder = Path(folder) if folder is not None else None
    if folder is not None and not folder.is_dir():
        if required:
            raise InputError(
                "the OpenFace folder does not exist", folder, hint="fix --openface (or `openface:` in the settings)"
            )
        notices.info("no OpenFace folder: every talkturn's facial features are missing", folder)
        return table
    table = table.copy()
    groups = table.groupby(["dialogue", "speaker"], sort=True).indices
    missing = []
    for key, idx in groups.items():
        path = files.get(key)
        if path is None or not os.path.lexists(path):
            missing.append((key, path, len(idx)))
            continue
        frames = read_openface_csv(path, fps)
        feats = aggregate_talkturns(
            frames,
            table["start_s"].to_numpy(dtype=float)[idx],
            table["end_s"].to_numpy(dtype=float)[idx],
            min_confidence,
        )
        for name in feats.columns:
            if name not in table:
                table[name] = missing_column(name, table.index)
            table.loc[table.index[idx], name] = feats[name].to_numpy()
    if folder is not None:
        _report_folder(folder, files, missing, len(groups), notices, skipped_names)
    return table


def _report_folder(
    folder: Path, files: dict, missing: list, speakers: int, notices: Notices, skipped_names: frozenset[str]
) -> None:
    """Say which expected files are absent and which files in the folder were not used."""
    if missing:
        (_, first, _), turns = missing[0], sum(n for *_, n in missing)
        notices.warn(
            f"{len(missing)} of {speakers} dialogue-speaker OpenFace files are missing (first: {first}); "
            f"their {turns} talkturns have no facial features",
            folder,
        )
    used = {Path(p).name for p in files.values() if p is not None}
    listed = list(folder.iterdir())
    hidden = [p for p in listed if is_hidden(p)]
    if hidden:
        notices.info(f"ignored {len(hidden)} hidden file(s) (names starting with '.')", folder)
    unused = [p for p in visible(listed) if p.name not in used]
    of_skipped = [p for p in unused if p.name in skipped_names]
    if of_skipped:
        notices.info(
            f"{len(of_skipped)} file(s) belong to sessions or sides that were left out and are not read", folder
        )
    stray = [p.name for p in unused if p.name not in skipped_names]
    if stray:
        notices.warn(
            f"{len(stray)} file(s) match no dialogue and speaker of the corpus and are not read: "
            f"{stray[:5]}{' ...' if len(stray) > 5 else ''}",
            folder,
        )
