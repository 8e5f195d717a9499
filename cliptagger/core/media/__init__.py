"""Photos as files: scanning folders, decoding (JPEG draft, MPF preview, RAW, HEIC), synthetic pictures."""
