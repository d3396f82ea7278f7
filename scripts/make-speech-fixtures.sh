#!/bin/sh
# Regenerates test/fixtures/speech: menu words spoken by espeak-ng (two voices, two speeds), degraded
# to what a phone line delivers (8 kHz, G.711 µ-law and back), stored as 8 kHz 16-bit mono WAV.
# Not run by the tests; the WAVs are committed. Needs the Debian packages espeak-ng and sox.
set -eu
out="$(dirname "$0")/../test/fixtures/speech"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# voice tag | espeak-ng voice | words per minute
VOICES="us:en-us:150 gb:en-gb+f3:120"
# file stem | text
WORDS="sales:sales support:support billing:billing operator:operator yes:yes no:no customer-service:customer_service"

degrade() { # $1 = espeak WAV, $2 = output WAV
  # Band-limit to 8 kHz with sox's default (high quality) rate effect, pad 0.5 s of silence each side,
  # then a µ-law round trip: encode to G.711 µ-law and decode back to 16-bit linear.
  sox "$1" -r 8000 -c 1 -b 16 -e signed "$tmp/lin.wav" pad 0.5 0.5
  sox "$tmp/lin.wav" -e u-law -b 8 "$tmp/ulaw.wav"
  sox "$tmp/ulaw.wav" -e signed -b 16 "$2"
}

for v in $VOICES; do
  tag="${v%%:*}"; rest="${v#*:}"; voice="${rest%%:*}"; wpm="${rest#*:}"
  for w in $WORDS; do
    stem="${w%%:*}"; text="$(echo "${w#*:}" | tr '_' ' ')"
    espeak-ng -v "$voice" -s "$wpm" -w "$tmp/raw.wav" "$text"
    degrade "$tmp/raw.wav" "$out/$stem-$tag.wav"
  done
done
# Two words separated by 1 s of silence (a caller repeating themselves), for utterance segmentation.
espeak-ng -v en-us -s 150 -w "$tmp/a.wav" "sales"
espeak-ng -v en-us -s 150 -w "$tmp/b.wav" "billing"
sox "$tmp/a.wav" "$tmp/a22.wav" pad 0 1
sox "$tmp/a22.wav" "$tmp/b.wav" "$tmp/ab.wav"
degrade "$tmp/ab.wav" "$out/sales-pause-billing-us.wav"
# A word that is not on the menu, to check it is not reported as a confident menu word.
espeak-ng -v en-us -s 150 -w "$tmp/c.wav" "banana"
degrade "$tmp/c.wav" "$out/banana-us.wav"
