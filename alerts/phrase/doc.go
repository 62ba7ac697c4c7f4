// Package phrase finds emerging issues in ticket summaries: words whose
// count in the last hours is far above what history expects, across
// categories — the same new words (燃气异味, a bus route change, a scam
// call) in many summaries at once.
//
// Segmentation is by character n-grams (two to four characters) rather
// than a dictionary segmenter. The well-kept Go segmenter,
// github.com/yanyiwu/gojieba, wraps the C++ cppjieba through cgo and loads
// a dictionary of about 21 MB from files at run time, so the server would
// no longer be one static, air-gapped binary; and a new issue's words are
// often not in its dictionary at all (a new scam's name, a route number),
// while n-grams see them. Overlapping n-grams of one phrase are merged
// back into the longest one that carries the burst.
//
// Stop words (the hotline's boilerplate and function words) and the city's
// place names (districts, streets, grids, roads) are cut out before
// n-grams are taken, and each n-gram's expected count is conditioned on
// the category and the place of every ticket in the window, so a burst of
// one kind of report in one street does not make its street's name an
// issue (the cluster and surge detectors report those).
//
// The package takes no configuration or logger globals.
package phrase
