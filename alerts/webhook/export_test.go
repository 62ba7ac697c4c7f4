package webhook

import "time"

// CheckAnswer exposes checkAnswer to the fuzz test.
var CheckAnswer = checkAnswer

// SetMinute shortens the receivers' rate window of s, before Run.
func SetMinute(s *Sender, d time.Duration) { s.setMinute(d) }
