"""From model outputs to words, by idea:

- ``decode/``: CTC decoding (greedy, beam search with a word n-gram LM), the character tokenizer, LM text;
- ``stream/``: live audio to text (VAD, endpointing, segmentation, the streaming session);
- ``evaluate/``: error rates, manifest evaluation, peer engines (Whisper, pocketsphinx), pseudo-labels;
- ``transcribe``: offline transcription of files (decode over stream's VAD segments).
"""
