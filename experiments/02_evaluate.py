"""02 - Evaluate the trained run: test report, learning curves and confusion matrix (thesis figures 1-3).

Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/02_evaluate.py``.
"""
# %% Set-up: backend, profile and paths (see drise_tf/experiment.py); evaluate_run loads the run and the test set
import json

import matplotlib.pyplot as plt

from drise_tf import FigureBook, evaluate_run, plotting, setup

exp = setup(__file__, load_data=False, load_model=False)

# %% Parameters
N_TEST = exp.profile.n_test  # evaluate on the first N_TEST test images (thesis: None = all 10,000)

# %% Re-evaluate the saved model on the test set: loss, accuracy, per-class accuracy, raw confusion matrix
# (printed, and written into the run's evaluation.json; its "train" entry, made by script 01, is kept)
evaluation = evaluate_run(exp.run_dir, data=exp.data, n_test=N_TEST)
if "train" in evaluation:
    print(f"training split: accuracy {evaluation['train']['accuracy']:.4f}, loss {evaluation['train']['loss']:.4f}")

# %% Thesis figures 1-3: training / validation loss and accuracy per epoch (epoch 0 = before training), confusion
with open(exp.run_dir / "history.json", encoding="utf-8") as stream:
    history = json.load(stream)  # per epoch: loss, accuracy, val_loss, val_accuracy, lr (written by script 01)
book = FigureBook(exp.figures_dir, "python experiments/02_evaluate.py",
                  {"profile": exp.profile.name, "run_dir": str(exp.run_dir), "n_test": N_TEST},
                  keep_open=exp.keep_open)
plotting.training_figures(book, history, evaluation)
print("index:", book.write_index())

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
