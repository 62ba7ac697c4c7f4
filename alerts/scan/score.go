package scan

import "math"

// Score is the expectation-based Poisson scan statistic of c observed
// against b expected: the log likelihood ratio c·ln(c/b) + b − c of a rate
// raised inside the region against the baseline rate, for c > b; 0
// otherwise (Neill et al., "Detection of emerging space-time clusters",
// KDD 2005).
func Score(c int, b float64) float64 {
	fc := float64(c)
	if fc <= b || c <= 0 {
		return 0
	}
	if b <= 0 {
		b = minExpected
	}
	return fc*math.Log(fc/b) + b - fc
}

// minExpected bounds an expectation away from zero, so one ticket in a
// cell that has never seen one does not score infinity.
const minExpected = 1e-3
