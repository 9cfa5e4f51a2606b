"""CTC decoding: greedy and beam search with a word n-gram LM, the character tokenizer, the LM text."""
