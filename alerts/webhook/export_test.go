package webhook

// CheckAnswer exposes checkAnswer to the fuzz test.
var CheckAnswer = checkAnswer
