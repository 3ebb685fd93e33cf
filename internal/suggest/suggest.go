// Package suggest finds the closest of a set of known words to a misspelt
// one, for "did you mean" hints in configuration and registry errors.
package suggest

import "strings"

// DidYouMean returns ` (did you mean "x"?)` for the candidate closest to word
// within a small edit distance (case-insensitive), or "" when none is close
// or word itself is a candidate.
func DidYouMean(word string, candidates []string) string {
	if best := Closest(word, candidates); best != "" && best != word {
		return ` (did you mean "` + best + `"?)`
	}
	return ""
}

// Closest returns the candidate closest to word within an edit distance of
// len(word)/2+1, or "".
func Closest(word string, candidates []string) string {
	best, bestDist := "", len(word)/2+2
	for _, c := range candidates {
		if d := distance(strings.ToLower(word), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
