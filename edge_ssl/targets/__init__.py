"""HuBERT's iterative targets: features for k-means (MFCC, or a layer of the previous model), k-means fitted
on a sample, labels dumped for a whole manifest, the label files and a dataset that crops them with the audio."""
