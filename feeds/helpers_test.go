package feeds_test

import "strconv"

func strconvI(v int64) string   { return strconv.FormatInt(v, 10) }
func strconvF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
