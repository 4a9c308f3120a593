"""Where a script finds its artifacts: Studio's ``fs_tracker`` for studio-lite (stdlib only, Python 3.8+).

``studio-lite run`` sets these variables before it starts the script:

* ``STUDIOML_HOME``: state folder (default ``~/.studioml``)
* ``STUDIOML_EXPERIMENT``: the experiment key
* ``STUDIOML_ARTIFACT_MAPPING``: a JSON file ``{"tag": "/abs/path", ...}``
* ``STUDIOML_ARTIFACT_<TAG>``: one per tag, ``<TAG>`` upper-cased with ``-`` replaced by ``_``

The mapping file wins over the per-tag variables. Run without the CLI, the default artifacts ``modeldir`` and
``tb`` fall back to ``$STUDIOML_HOME/experiments/<key>/<tag>`` as in Studio.
"""

import json
import os
import uuid
from typing import Dict, Optional, Tuple

STUDIOML_HOME = 'STUDIOML_HOME'
STUDIOML_EXPERIMENT = 'STUDIOML_EXPERIMENT'
STUDIOML_ARTIFACT_MAPPING = 'STUDIOML_ARTIFACT_MAPPING'
ARTIFACT_ENV_PREFIX = 'STUDIOML_ARTIFACT_'

# Default artifacts that always resolve to a folder, even when the CLI did not map them.
_DEFAULT_DIR_TAGS = ('modeldir', 'tb')


class ArtifactNotFoundError(KeyError):
    """Raised by get_artifact() for a tag this experiment does not have."""

    def __str__(self):
        # KeyError's own __str__ prints the repr of its argument, which mangles a sentence.
        return str(self.args[0]) if self.args else ''


def artifact_env_name(tag):
    # type: (str) -> str
    """Name of the per-tag variable, e.g. 'my-data' -> STUDIOML_ARTIFACT_MY_DATA."""
    return ARTIFACT_ENV_PREFIX + tag.upper().replace('-', '_')


def get_studio_home():
    # type: () -> str
    """$STUDIOML_HOME, or ~/.studioml."""
    home = os.environ.get(STUDIOML_HOME)
    if home:
        return os.path.expanduser(home)
    return os.path.join(os.path.expanduser('~'), '.studioml')


def get_experiment_key():
    # type: () -> str
    """Key of the running experiment; outside the CLI a new uuid, kept for this process and its children."""
    key = os.environ.get(STUDIOML_EXPERIMENT)
    if not key:
        key = str(uuid.uuid4())
        os.environ[STUDIOML_EXPERIMENT] = key
    return key


def get_artifacts():
    # type: () -> Dict[str, str]
    """All artifacts of this experiment as {tag: local path}."""
    mapping, _ = _read_mapping()
    result = dict(mapping)
    # Variable names lose case and '-', so a variable only adds a tag the mapping file does not already name.
    covered = set(artifact_env_name(tag) for tag in mapping)
    for name, value in _artifact_env_vars().items():
        if name not in covered:
            result[name[len(ARTIFACT_ENV_PREFIX):].lower()] = value
    return result


def get_artifact(tag):
    # type: (str) -> str
    """Local path of the artifact tagged `tag`; raises ArtifactNotFoundError (a KeyError) for an unknown tag."""
    mapping, problem = _read_mapping()
    path = mapping.get(tag) or _env_artifact(tag)
    if path:
        return path
    if tag in _DEFAULT_DIR_TAGS:
        return _default_dir(tag, None)
    raise ArtifactNotFoundError(_unknown_tag_message(tag, problem))


def get_model_directory(experiment_name=None):
    # type: (Optional[str]) -> str
    """Folder for checkpoints (artifact 'modeldir'), created if missing."""
    return _default_dir('modeldir', experiment_name)


def get_tensorboard_dir(experiment_name=None):
    # type: (Optional[str]) -> str
    """Folder for TensorBoard logs (artifact 'tb'), created if missing."""
    return _default_dir('tb', experiment_name)


def get_artifact_cache(tag=None, experiment_name=None):
    # type: (Optional[str], Optional[str]) -> str
    """$STUDIOML_HOME/experiments/<experiment>[/<tag>] (not created)."""
    path = os.path.join(get_studio_home(), 'experiments', experiment_name or get_experiment_key())
    return os.path.join(path, tag) if tag else path


def get_blob_cache(blobkey=None):
    # type: (Optional[str]) -> str
    """$STUDIOML_HOME/blobcache (created), or the entry `blobkey` inside it."""
    cache = os.path.join(get_studio_home(), 'blobcache')
    os.makedirs(cache, exist_ok=True)
    return os.path.join(cache, blobkey) if blobkey else cache


def get_queue_directory():
    # type: () -> str
    """$STUDIOML_HOME/queue, created if missing."""
    path = os.path.join(get_studio_home(), 'queue')
    os.makedirs(path, exist_ok=True)
    return path


def _default_dir(tag, experiment_name):
    # type: (str, Optional[str]) -> str
    if not experiment_name or experiment_name == os.environ.get(STUDIOML_EXPERIMENT):
        mapping, _ = _read_mapping()
        mapped = mapping.get(tag) or _env_artifact(tag)
        if mapped:
            try:
                os.makedirs(mapped, exist_ok=True)
            except OSError:
                pass  # the CLI owns mapped folders; a read-only one is still the right answer
            return mapped
    path = get_artifact_cache(tag, experiment_name)
    os.makedirs(path, exist_ok=True)
    return path


def _read_mapping():
    # type: () -> Tuple[Dict[str, str], Optional[str]]
    """The mapping file as {tag: path}, plus a note on why it could not be read (for error messages)."""
    path = os.environ.get(STUDIOML_ARTIFACT_MAPPING)
    if not path:
        return {}, STUDIOML_ARTIFACT_MAPPING + ' is not set (was the script started by `studio-lite run`?)'
    try:
        with open(path, 'r', encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}, 'the mapping file {} does not exist'.format(path)
    except ValueError as e:
        raise ValueError('{} {} is not valid JSON: {}'.format(STUDIOML_ARTIFACT_MAPPING, path, e)) from e
    if not isinstance(data, dict):
        raise ValueError('{} {} must hold a JSON object {{"tag": "/path"}}'.format(STUDIOML_ARTIFACT_MAPPING, path))
    mapping = {}
    for tag, value in data.items():
        # Accept {"tag": {"path": ...}} too, should the CLI ever write richer entries.
        if isinstance(value, dict):
            value = value.get('path') or value.get('local_path')
        if isinstance(value, str) and value:
            mapping[str(tag)] = value
    return mapping, None


def _env_artifact(tag):
    # type: (str) -> Optional[str]
    name = artifact_env_name(tag)
    # A tag named 'mapping' would collide with STUDIOML_ARTIFACT_MAPPING; only the mapping file can name it.
    if name == STUDIOML_ARTIFACT_MAPPING:
        return None
    return os.environ.get(name) or None


def _artifact_env_vars():
    # type: () -> Dict[str, str]
    return {
        name: value
        for name, value in os.environ.items()
        if name.startswith(ARTIFACT_ENV_PREFIX) and name != STUDIOML_ARTIFACT_MAPPING and value
    }


def _unknown_tag_message(tag, problem):
    # type: (str, Optional[str]) -> str
    known = sorted(set(get_artifacts()) | set(_DEFAULT_DIR_TAGS))
    msg = 'no artifact tagged {!r} in this experiment; known tags: {}.'.format(tag, ', '.join(known))
    msg += ' Give it with `studio-lite run --capture PATH:{0}`, `--capture-once PATH:{0}` or `--reuse EXP/TAG:{0}`.'.format(
        tag
    )
    if problem:
        msg += ' Note: ' + problem + '.'
    return msg
