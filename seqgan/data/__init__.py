"""Data: vocabularies, the one text-line reader, ids -> text, text and MIDI preparation, prepared directories."""
