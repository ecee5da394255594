"""OpenAI's Whisper (through faster-whisper / CTranslate2) under simul's policies: the streaming
model (``streaming``).  Pretrained elsewhere and loaded from a local folder, so it has no
training glue and no registry entry; ``simul eval --model whisper`` builds it."""
