"""Pixels to Predictions: reusable code for the book, the demos and the graded notebooks.

The package students import, one subpackage or module per topic:

* :mod:`helpers.images` and :mod:`helpers.kernels`: pictures as arrays, and the classic
  hand-made kernels with the course's worked examples;
* :mod:`helpers.ops`: every CNN layer in NumPy as a forward/backward pair, and a small CNN
  trained with them;
* :mod:`helpers.figures` and :mod:`helpers.demos`: the book's figures and its interactive
  demos, one module per chapter;
* :mod:`helpers.check`: what the graded notebooks' test cells call, and the self-check
  ``python -m helpers.check NOTEBOOK.ipynb``;
* :mod:`helpers.data` and :mod:`helpers.torch`: the data sets, and training with PyTorch.

Nothing is imported here, so ``import helpers.images`` does not load PyTorch or matplotlib.
"""
