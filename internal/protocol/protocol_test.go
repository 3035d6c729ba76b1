package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	longUpdates := `{"t":"push","field":"f","version":0,"updates":[` + strings.TrimSuffix(strings.Repeat(`{"clientID":"c","changes":[0]},`, MaxUpdates+1), ",") + `]}`
	cases := []struct {
		name, in, code string
	}{
		{"push", `{"t":"push","id":"1","field":"wins","epoch":"e","version":3,"updates":[{"clientID":"c","changes":[3,[0,"x"]]}]}`, ""},
		{"reveal key", `{"t":"pull","field":"one_thing.partner_a","epoch":"e","since":0}`, ""},
		{"presence nowhere", `{"t":"presence","field":null,"sel":null}`, ""},
		{"act", `{"t":"act","act":"stage.set","stage":"x"}`, ""},
		{"empty", ``, CodeBadJSON},
		{"array", `[]`, CodeBadJSON},
		{"string", `"push"`, CodeBadJSON},
		{"broken", `{"t":`, CodeBadJSON},
		{"wrong type for t", `{"t":5}`, CodeBadJSON},
		{"no t", `{}`, CodeUnknownType},
		{"unknown t", `{"t":"welcome"}`, CodeUnknownType},
		{"long id", `{"t":"act","act":"x","id":"` + strings.Repeat("i", 65) + `"}`, CodeBadMessage},
		{"push no field", `{"t":"push","version":0,"updates":[{"clientID":"c","changes":[]}]}`, CodeBadMessage},
		{"push bad field", `{"t":"push","field":"../etc","version":0,"updates":[{"clientID":"c","changes":[]}]}`, CodeBadMessage},
		{"push no version", `{"t":"push","field":"f","updates":[{"clientID":"c","changes":[]}]}`, CodeBadMessage},
		{"push negative version", `{"t":"push","field":"f","version":-1,"updates":[{"clientID":"c","changes":[]}]}`, CodeBadMessage},
		{"push no updates", `{"t":"push","field":"f","version":0,"updates":[]}`, CodeBadMessage},
		{"push too many updates", longUpdates, CodeTooLarge},
		{"push no clientID", `{"t":"push","field":"f","version":0,"updates":[{"changes":[]}]}`, CodeBadMessage},
		{"push changes not array", `{"t":"push","field":"f","version":0,"updates":[{"clientID":"c","changes":"x"}]}`, CodeBadChanges},
		{"pull no since", `{"t":"pull","field":"f"}`, CodeBadMessage},
		{"presence bad sel", `{"t":"presence","field":"f","sel":[1]}`, CodeBadMessage},
		{"presence negative sel", `{"t":"presence","field":"f","sel":[-1,2]}`, CodeBadMessage},
		{"act without act", `{"t":"act"}`, CodeBadMessage},
		{"restore field", `{"t":"restore","field":"wins","epoch":"e","version":4,"text":"","sig":"s"}`, ""},
		{"restore room", `{"t":"restore","room":{"role":"moderator","state":{"rev":2},"sig":"s"}}`, ""},
		{"restore no text", `{"t":"restore","field":"wins","epoch":"e","version":4,"sig":"s"}`, CodeBadMessage},
		{"restore no sig", `{"t":"restore","field":"wins","epoch":"e","version":4,"text":"x"}`, CodeBadMessage},
		{"restore no epoch", `{"t":"restore","field":"wins","version":4,"text":"x","sig":"s"}`, CodeBadMessage},
		{"restore negative version", `{"t":"restore","field":"wins","epoch":"e","version":-4,"text":"x","sig":"s"}`, CodeBadMessage},
		{"restore room state not object", `{"t":"restore","room":{"role":"moderator","state":[1],"sig":"s"}}`, CodeBadMessage},
		{"restore room no role", `{"t":"restore","room":{"state":{},"sig":"s"}}`, CodeBadMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != tc.code || pe.Message == "" {
				t.Fatalf("got %v, want code %s with a message", err, tc.code)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"t":"push","id":"1","field":"wins","epoch":"e","version":3,"updates":[{"clientID":"c","changes":[3,[0,"x"]]}]}`,
		`{"t":"pull","field":"a.partner_b","epoch":"e","since":2}`,
		`{"t":"restore","field":"wins","epoch":"e","version":4,"text":"ab","sig":"AAAA"}`,
		`{"t":"restore","room":{"role":"moderator","state":{"rev":2},"sig":"s"}}`,
		`{"t":"presence","field":"f","sel":[0,4]}`,
		`{"t":"act","act":"sign","field":"f","version":2}`,
		`{"t":`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		switch m.T {
		case TPush:
			if m.Field == nil || m.Version == nil || len(m.Updates) == 0 || len(m.Updates) > MaxUpdates {
				t.Fatalf("accepted an incomplete push: %q", data)
			}
		case TPull:
			if m.Field == nil || m.Since == nil || *m.Since < 0 {
				t.Fatalf("accepted an incomplete pull: %q", data)
			}
		case TRestore:
			if m.Room == nil && (m.Field == nil || m.Version == nil || *m.Version < 0 || m.Text == nil || m.Sig == "" || m.Epoch == "") {
				t.Fatalf("accepted an incomplete restore: %q", data)
			}
		case TPresence, TAct:
		default:
			t.Fatalf("accepted type %q", m.T)
		}
	})
}
