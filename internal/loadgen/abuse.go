package loadgen

// AbuseResult is the outcome of one misbehaving-client scenario.
type AbuseResult struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}
