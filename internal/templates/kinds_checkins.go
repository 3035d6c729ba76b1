package templates

// Kinds for the plan a couple takes home: dated check-ins and milestones.
// Their values are lists kept in the room state (not collaborative text);
// the room package validates them (internal/room/checkins.go).
const (
	// KindCheckins is a list of dated check-ins: a date-time with its UTC
	// offset and an optional title each. The export package turns them into
	// calendar events.
	KindCheckins Kind = "checkins"
	// KindMilestones is a list of milestones: a title, an optional date,
	// and "reached" with who marked it and when.
	KindMilestones Kind = "milestones"
)

// IsPlanList reports whether fields of kind k hold a list of dated entries
// (check-ins or milestones).
func (k Kind) IsPlanList() bool { return k == KindCheckins || k == KindMilestones }

// planList checks the settings of a check-ins or milestones field: lists
// are shared plans, so they are never a moderator's private note nor
// another partner's secret.
func (v *validator) planList(stage string, f *Field) {
	if f.Owner == OwnerModerator {
		v.addf(stage, f.ID, "moderator fields are private, so they cannot be of kind %s", f.Kind)
	}
}
