"""digits: draw a digit, classify it, export the model for Android and browsers.

Every model in this package takes the same input: a batch of 28x28 float32
images, white ink on black, values in 0..1 (the MNIST convention), and returns
10 softmax probabilities, one per digit 0-9.
"""

LABELS = tuple(str(d) for d in range(10))
