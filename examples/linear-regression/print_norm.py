"""Studio's artifact-reuse example: print the L2 norm of the last weights saved by train.py.

Run with:  studio-lite run --reuse=<experiment>/weights:w print_norm.py
"""

import glob
import os
import pickle
import re
import sys

import numpy as np
from studio import fs_tracker


def step_of(path):
    # lr_w_<step>_<loss>.pck: sort by the step number, since 'lr_w_10_' < 'lr_w_9_' as text.
    match = re.match(r'lr_w_(\d+)_', os.path.basename(path))
    return int(match.group(1)) if match else -1


weights_list = sorted(glob.glob(os.path.join(fs_tracker.get_artifact('w'), '*.pck')), key=step_of)
if not weights_list:
    sys.exit('no *.pck files in artifact w ({})'.format(fs_tracker.get_artifact('w')))

print('using {}'.format(os.path.basename(weights_list[-1])))
with open(weights_list[-1], 'rb') as f:
    w = pickle.load(f)

# Same format as train.py's last line, so the two can be compared.
print('L2 norm = {}'.format(np.linalg.norm(w)))
