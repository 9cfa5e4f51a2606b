# The two set-up commands of the README. Each installs what it needs (apt packages, a venv with
# pinned deps) once, then runs. Re-running skips the install.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# flight-of-the-amazon-queen: the held-out real voices of the demo and the tests (edge_ssl/data/real/slice.py).
APT_PACKAGES := libportaudio2 flite espeak-ng sox wordnet-base opencv-doc festival festvox-kallpc16k \
	festvox-kdlpc16k festvox-us-slt-hts flight-of-the-amazon-queen

# Real voices (game voice acting, spoken words, non-English prompts): Debian packages for the training corpus.
REAL_PACKAGES := flight-of-the-amazon-queen beneath-a-steel-sky hedgewars-data klettres-data ktuberling-data \
	asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav

.PHONY: demo test install system-deps real-data

demo: $(STAMP)
	$(VENV)/bin/edge-ssl demo

test: $(STAMP)
	$(PY) -m pytest -q

install: $(STAMP)

# Extract the real-speech corpus (data/real) and label it with the Whisper teachers (resumable, CPU-hours).
real-data: $(STAMP)
	@$(MAKE) --no-print-directory system-deps APT_PACKAGES="$(REAL_PACKAGES)"
	$(VENV)/bin/edge-ssl prepare real data/real
	recipes/real_en/decode.sh

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml | system-deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev,tts,peers,lm]"
	# Silero VAD's ONNX model ships in this wheel; its declared deps (torch, torchaudio) would pull a CUDA
	# torch, and pyproject cannot say --no-deps for one package, so it is installed here (see pyproject).
	$(VENV)/bin/pip install -q --no-deps silero-vad==6.2.3
	touch $(STAMP)
