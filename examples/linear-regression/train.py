"""Studio's linear-regression artifact example: gradient descent, weights pickled at every step.

Run with:  studio-lite run --capture=./weights:weights train.py
"""

import os
import pickle

import numpy as np
from studio import fs_tracker

no_samples = 100
dim_samples = 5

learning_rate = 0.01
no_steps = 10

X = np.random.random((no_samples, dim_samples))
y = np.random.random((no_samples,))

w = np.random.random((dim_samples,))

# The CLI refuses a missing --capture folder; under another mapping (or none) the folder may not exist yet.
weights_dir = fs_tracker.get_artifact('weights')
os.makedirs(weights_dir, exist_ok=True)

for step in range(no_steps):
    yhat = X.dot(w)
    err = yhat - y
    dw = err.dot(X)
    w -= learning_rate * dw
    loss = 0.5 * err.dot(err)

    print('step = {}, loss = {}, L2 norm = {}'.format(step, loss, np.linalg.norm(w)))

    with open(os.path.join(weights_dir, 'lr_w_{}_{}.pck'.format(step, loss)), 'wb') as f:
        pickle.dump(w, f)
