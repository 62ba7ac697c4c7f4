package relay

// State is where a camera's upstream stands.
type State uint8

// The states of a source. Their numbers are the value of the
// citywall_video_state metric.
const (
	Idle        State = iota // nobody watches; no upstream session
	Connecting               // dialling the camera
	Live                     // frames arrive
	Stalled                  // connected, but no video for video.stall_timeout
	Offline                  // the camera cannot be reached; retrying
	Unsupported              // the camera sends no video the relay can carry
)

var stateNames = [...]string{"idle", "connecting", "live", "stalled", "offline", "unsupported"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
