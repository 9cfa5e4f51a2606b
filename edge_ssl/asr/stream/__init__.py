"""Live audio to text: voice activity detection, endpoint rules, segmentation, the streaming session."""
