"""Tests for cli/python/studio/fs_tracker.py. Run: python3 -m unittest discover -s cli/test/python"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

PYTHON_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', 'python'))
sys.path.insert(0, PYTHON_DIR)

from studio import fs_tracker  # noqa: E402

# Drop every studio variable of the developer's shell so each test starts from a known environment.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith('STUDIOML_')}


class FsTrackerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='fs-tracker-test-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, 'home')
        patcher = mock.patch.dict(os.environ, CLEAN_ENV, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)

    def write_mapping(self, mapping):
        path = os.path.join(self.tmp, 'artifacts.json')
        with open(path, 'w') as f:
            json.dump(mapping, f)
        os.environ['STUDIOML_ARTIFACT_MAPPING'] = path
        return path

    def folder(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    # --- get_artifact / get_artifacts

    def test_get_artifact_reads_mapping_file(self):
        weights = self.folder('weights')
        self.write_mapping({'weights': weights})
        self.assertEqual(fs_tracker.get_artifact('weights'), weights)

    def test_mapping_file_wins_over_env_var(self):
        weights = self.folder('weights')
        self.write_mapping({'weights': weights})
        os.environ['STUDIOML_ARTIFACT_WEIGHTS'] = '/somewhere/else'
        self.assertEqual(fs_tracker.get_artifact('weights'), weights)

    def test_env_var_used_when_tag_not_in_mapping(self):
        self.write_mapping({'weights': self.folder('weights')})
        os.environ['STUDIOML_ARTIFACT_MY_DATA_2'] = '/data/x'
        self.assertEqual(fs_tracker.get_artifact('my-data_2'), '/data/x')
        self.assertEqual(fs_tracker.get_artifact('My-Data-2'), '/data/x')

    def test_env_var_alone_without_mapping(self):
        os.environ['STUDIOML_ARTIFACT_W'] = '/reused/w'
        self.assertEqual(fs_tracker.get_artifact('w'), '/reused/w')

    def test_unknown_tag_raises_key_error_listing_known_tags(self):
        self.write_mapping({'weights': '/a', 'data': '/b'})
        os.environ['STUDIOML_ARTIFACT_EXTRA'] = '/c'
        with self.assertRaises(KeyError) as ctx:
            fs_tracker.get_artifact('wieghts')
        msg = str(ctx.exception)
        self.assertIn("'wieghts'", msg)
        for tag in ('weights', 'data', 'extra', 'modeldir', 'tb'):
            self.assertIn(tag, msg)
        self.assertIn('--capture', msg)
        self.assertFalse(msg.startswith('"'), 'message should read as a sentence, not a repr')

    def test_unknown_tag_without_cli_says_why(self):
        with self.assertRaises(KeyError) as ctx:
            fs_tracker.get_artifact('weights')
        self.assertIn('STUDIOML_ARTIFACT_MAPPING is not set', str(ctx.exception))

    def test_missing_mapping_file_falls_back_to_env_and_is_reported(self):
        os.environ['STUDIOML_ARTIFACT_MAPPING'] = os.path.join(self.tmp, 'nope.json')
        os.environ['STUDIOML_ARTIFACT_W'] = '/w'
        self.assertEqual(fs_tracker.get_artifact('w'), '/w')
        with self.assertRaises(KeyError) as ctx:
            fs_tracker.get_artifact('x')
        self.assertIn('nope.json does not exist', str(ctx.exception))

    def test_invalid_mapping_file_is_a_clear_error(self):
        path = os.path.join(self.tmp, 'bad.json')
        with open(path, 'w') as f:
            f.write('{not json')
        os.environ['STUDIOML_ARTIFACT_MAPPING'] = path
        with self.assertRaises(ValueError) as ctx:
            fs_tracker.get_artifact('w')
        self.assertIn('bad.json', str(ctx.exception))

    def test_mapping_tag_is_not_confused_with_mapping_variable(self):
        path = self.write_mapping({'weights': '/w'})
        with self.assertRaises(KeyError):
            fs_tracker.get_artifact('mapping')
        self.assertNotIn('mapping', fs_tracker.get_artifacts())
        self.write_mapping({'mapping': '/m'})
        self.assertEqual(fs_tracker.get_artifact('mapping'), '/m')
        self.assertTrue(os.path.exists(path))

    def test_get_artifacts_merges_mapping_and_env(self):
        self.write_mapping({'weights': '/w', 'my-data': '/d'})
        os.environ['STUDIOML_ARTIFACT_MY_DATA'] = '/ignored'
        os.environ['STUDIOML_ARTIFACT_EXTRA'] = '/e'
        os.environ['STUDIOML_ARTIFACT_EMPTY'] = ''
        self.assertEqual(fs_tracker.get_artifacts(), {'weights': '/w', 'my-data': '/d', 'extra': '/e'})

    def test_get_artifacts_empty_without_cli(self):
        self.assertEqual(fs_tracker.get_artifacts(), {})

    # --- experiment key, home, caches

    def test_experiment_key_from_env(self):
        os.environ['STUDIOML_EXPERIMENT'] = 'lr-1'
        self.assertEqual(fs_tracker.get_experiment_key(), 'lr-1')

    def test_experiment_key_generated_once_without_cli(self):
        key = fs_tracker.get_experiment_key()
        self.assertTrue(key)
        self.assertEqual(fs_tracker.get_experiment_key(), key)
        self.assertEqual(os.environ['STUDIOML_EXPERIMENT'], key)

    def test_studio_home_default_and_override(self):
        self.assertEqual(fs_tracker.get_studio_home(), os.path.join(os.path.expanduser('~'), '.studioml'))
        os.environ['STUDIOML_HOME'] = self.home
        self.assertEqual(fs_tracker.get_studio_home(), self.home)

    def test_blob_cache(self):
        os.environ['STUDIOML_HOME'] = self.home
        cache = fs_tracker.get_blob_cache()
        self.assertEqual(cache, os.path.join(self.home, 'blobcache'))
        self.assertTrue(os.path.isdir(cache))
        self.assertEqual(fs_tracker.get_blob_cache('abc'), os.path.join(cache, 'abc'))

    def test_artifact_cache(self):
        os.environ['STUDIOML_HOME'] = self.home
        os.environ['STUDIOML_EXPERIMENT'] = 'e1'
        self.assertEqual(fs_tracker.get_artifact_cache('w'), os.path.join(self.home, 'experiments', 'e1', 'w'))
        self.assertEqual(fs_tracker.get_artifact_cache('w', 'e2'), os.path.join(self.home, 'experiments', 'e2', 'w'))

    def test_queue_directory(self):
        os.environ['STUDIOML_HOME'] = self.home
        self.assertTrue(os.path.isdir(fs_tracker.get_queue_directory()))

    # --- modeldir / tb

    def test_model_and_tb_dirs_from_mapping(self):
        modeldir = os.path.join(self.tmp, 'mapped-modeldir')
        self.write_mapping({'modeldir': modeldir, 'tb': '/tb-dir-unused'})
        os.environ['STUDIOML_ARTIFACT_TB'] = '/tb-from-env'
        self.assertEqual(fs_tracker.get_model_directory(), modeldir)
        self.assertTrue(os.path.isdir(modeldir))
        self.assertEqual(fs_tracker.get_artifact('modeldir'), modeldir)

    def test_tb_dir_from_env_var(self):
        tb = os.path.join(self.tmp, 'tb-env')
        self.write_mapping({})
        os.environ['STUDIOML_ARTIFACT_TB'] = tb
        self.assertEqual(fs_tracker.get_tensorboard_dir(), tb)

    def test_model_dir_fallback_without_cli(self):
        os.environ['STUDIOML_HOME'] = self.home
        os.environ['STUDIOML_EXPERIMENT'] = 'exp-1'
        expected = os.path.join(self.home, 'experiments', 'exp-1', 'modeldir')
        self.assertEqual(fs_tracker.get_model_directory(), expected)
        self.assertTrue(os.path.isdir(expected))
        self.assertEqual(fs_tracker.get_artifact('modeldir'), expected)
        tb = fs_tracker.get_tensorboard_dir()
        self.assertEqual(tb, os.path.join(self.home, 'experiments', 'exp-1', 'tb'))
        self.assertTrue(os.path.isdir(tb))

    def test_model_dir_of_another_experiment_ignores_current_mapping(self):
        os.environ['STUDIOML_HOME'] = self.home
        os.environ['STUDIOML_EXPERIMENT'] = 'current'
        self.write_mapping({'modeldir': os.path.join(self.tmp, 'current-modeldir')})
        other = fs_tracker.get_model_directory('other')
        self.assertEqual(other, os.path.join(self.home, 'experiments', 'other', 'modeldir'))
        self.assertEqual(fs_tracker.get_model_directory('current'), os.path.join(self.tmp, 'current-modeldir'))

    # --- as a script sees it

    def test_import_from_a_child_python_process(self):
        weights = self.folder('weights')
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, STUDIOML_EXPERIMENT='k', STUDIOML_ARTIFACT_WEIGHTS=weights)
        out = subprocess.run(
            [sys.executable, '-c', 'from studio import fs_tracker; print(fs_tracker.get_artifact("weights"))'],
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            universal_newlines=True,
        ).stdout
        self.assertEqual(out.strip(), weights)


if __name__ == '__main__':
    unittest.main()
