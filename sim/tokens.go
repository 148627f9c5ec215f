package sim

import (
	"unicode"
	"unicode/utf8"
)

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// asciiSpace marks the ASCII bytes that unicode.IsSpace accepts, as
// strings.Fields does.
var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// Tokenize appends to dst the token ids of prompt and returns the result:
// one id per whitespace-separated word (the words of strings.Fields), each the
// 64-bit FNV-1a hash of the word's bytes.
func Tokenize(dst []uint64, prompt string) []uint64 {
	h := uint64(fnvOffset64)
	in := false
	for i := 0; i < len(prompt); {
		c := prompt[i]
		size := 1
		space := false
		if c < utf8.RuneSelf {
			space = asciiSpace[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(prompt[i:])
			space = unicode.IsSpace(r)
		}
		if space {
			if in {
				dst = append(dst, h)
				in = false
			}
		} else {
			if !in {
				h = fnvOffset64
				in = true
			}
			for j := i; j < i+size; j++ {
				h ^= uint64(prompt[j])
				h *= fnvPrime64
			}
		}
		i += size
	}
	if in {
		dst = append(dst, h)
	}
	return dst
}

// BlockHashes appends to dst the identities of the full blocks of tokens,
// blockTokens ids each, and returns the result. The hash of block i is FNV-1a
// 64 over the little-endian bytes of the hash of block i-1 (0 for the first
// block) followed by the block's token ids, so equal hashes mean equal
// prefixes. A trailing partial block has no identity: it is never cached.
func BlockHashes(dst []uint64, tokens []uint64, blockTokens int) []uint64 {
	if blockTokens <= 0 {
		return dst
	}
	var prev uint64
	for start := 0; start+blockTokens <= len(tokens); start += blockTokens {
		h := uint64(fnvOffset64)
		h = mix64(h, prev)
		for _, t := range tokens[start : start+blockTokens] {
			h = mix64(h, t)
		}
		dst = append(dst, h)
		prev = h
	}
	return dst
}

// mix64 feeds the 8 little-endian bytes of v into the FNV-1a state h.
func mix64(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= fnvPrime64
		v >>= 8
	}
	return h
}
