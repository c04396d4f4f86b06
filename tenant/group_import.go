package tenant

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Limits of a CSV import of attributes and groups.
const (
	MaxImportBytes = 512 << 10
	MaxImportRows  = 5000
)

// ErrMalformedImport: the CSV does not parse, or its header is not one
// ImportGroups reads. Nothing was written.
var ErrMalformedImport = errors.New("malformed CSV")

// ImportError is the CSV's rows that cannot be imported; nothing was
// written.
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string { return fmt.Sprintf("%d rows cannot be imported", len(e.Rows)) }

// RowError says what is wrong with one row (1 is the header, 2 the first
// data row) and which column.
type RowError struct {
	Row     int    `json:"row"`
	Column  string `json:"column"`
	Message string `json:"message"`
}

// ImportReport is what an import changed.
type ImportReport struct {
	Rows    int `json:"rows"`
	Members int `json:"members"`
}

// importRow is one valid row: the member and what to set.
type importRow struct {
	memberID string
	attrs    bson.D
	group    string
}

// ImportGroups reads a CSV whose header names email and one or more of
// the attributes (Attributes) and group: each row sets the member's
// attributes (an empty cell leaves one as it is) and adds them by hand to
// the group named (a group of the instance, by name). Every row is
// checked first: a malformed file is ErrMalformedImport (wrapped with
// why), any bad row an *ImportError listing them all; either way nothing
// is written. Admins only; audited.
func (sc Scope) ImportGroups(ctx context.Context, by Member, data string) (ImportReport, error) {
	if len(data) > MaxImportBytes {
		return ImportReport{}, fmt.Errorf("%w: larger than %d KiB", ErrMalformedImport, MaxImportBytes>>10)
	}
	r := csv.NewReader(strings.NewReader(data))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return ImportReport{}, fmt.Errorf("%w: no header row (email, then %s and/or group)", ErrMalformedImport, strings.Join(Attributes, ", "))
	}
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if h != "email" && h != "group" && !slices.Contains(Attributes, h) {
			return ImportReport{}, fmt.Errorf("%w: unknown column %q: use email, %s, group", ErrMalformedImport, h, strings.Join(Attributes, ", "))
		}
		if slices.Contains(cols, h) {
			return ImportReport{}, fmt.Errorf("%w: column %q appears twice", ErrMalformedImport, h)
		}
		cols[i] = h
	}
	if !slices.Contains(cols, "email") || len(cols) < 2 {
		return ImportReport{}, fmt.Errorf("%w: the header needs email and at least one of %s, group", ErrMalformedImport, strings.Join(Attributes, ", "))
	}
	var records [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ImportReport{}, fmt.Errorf("%w: %v", ErrMalformedImport, err)
		}
		if len(records) == MaxImportRows {
			return ImportReport{}, fmt.Errorf("%w: more than %d rows", ErrMalformedImport, MaxImportRows)
		}
		records = append(records, rec)
	}
	if len(records) == 0 {
		return ImportReport{}, fmt.Errorf("%w: no rows after the header", ErrMalformedImport)
	}

	groups, err := sc.Groups(ctx)
	if err != nil {
		return ImportReport{}, err
	}
	emails := make([]string, 0, len(records))
	for _, rec := range records {
		emails = append(emails, strings.ToLower(strings.TrimSpace(rec[slices.Index(cols, "email")])))
	}
	members, err := sc.membersByEmail(ctx, emails)
	if err != nil {
		return ImportReport{}, err
	}
	var rows []importRow
	var bad []RowError
	for i, rec := range records {
		row, errs := checkImportRow(cols, rec, members, groups)
		for _, e := range errs {
			e.Row = i + 2
			bad = append(bad, e)
		}
		rows = append(rows, row)
	}
	if len(bad) > 0 {
		return ImportReport{}, &ImportError{Rows: bad}
	}
	touched := map[string]bool{}
	for _, row := range rows {
		update := bson.D{}
		if len(row.attrs) > 0 {
			update = append(update, bson.E{Key: "$set", Value: row.attrs})
		}
		if row.group != "" {
			update = append(update, bson.E{Key: "$addToSet", Value: bson.D{{Key: "groups", Value: row.group}}})
		}
		if len(update) == 0 {
			continue
		}
		if _, err := sc.Collection(memberKind).Update(ctx, bson.D{{Key: "_id", Value: row.memberID}}, update); err != nil {
			return ImportReport{}, fmt.Errorf("import row for member %s: %w", row.memberID, err)
		}
		touched[row.memberID] = true
	}
	rep := ImportReport{Rows: len(rows), Members: len(touched)}
	return rep, sc.Audit(ctx, MemberActor(by), "group.imported", "", map[string]string{
		"rows": fmt.Sprint(rep.Rows), "members": fmt.Sprint(rep.Members), "columns": strings.Join(cols, ",")})
}

// checkImportRow validates one CSV record against the header's columns.
func checkImportRow(cols, rec []string, members map[string]importMember, groups []Group) (importRow, []RowError) {
	var row importRow
	var errs []RowError
	if len(rec) != len(cols) {
		return row, []RowError{{Column: "", Message: fmt.Sprintf("has %d cells, the header %d", len(rec), len(cols))}}
	}
	for i, col := range cols {
		v := strings.TrimSpace(rec[i])
		switch {
		case col == "email":
			email := strings.ToLower(v)
			m, ok := members[email]
			switch {
			case email == "":
				errs = append(errs, RowError{Column: col, Message: "is empty"})
			case !ok:
				errs = append(errs, RowError{Column: col, Message: "no member of this company has this address"})
			}
			row.memberID = m.ID
		case col == "group":
			if v == "" {
				continue
			}
			i := slices.IndexFunc(groups, func(g Group) bool { return g.NameKey == groupNameKey(v) })
			if i < 0 {
				errs = append(errs, RowError{Column: col, Message: fmt.Sprintf("no group is named %q: create it first", v)})
				continue
			}
			row.group = groups[i].ID
			if m := members[strings.ToLower(strings.TrimSpace(rec[slices.Index(cols, "email")]))]; len(m.Groups) >= maxGroupsPerMember && !slices.Contains(m.Groups, row.group) {
				errs = append(errs, RowError{Column: col, Message: fmt.Sprintf("the member is in %d groups by hand already, the most there may be", maxGroupsPerMember)})
			}
		default:
			if v == "" {
				continue
			}
			if len([]rune(v)) > maxAttributeLen || controlCharError(col, v, false) != nil {
				errs = append(errs, RowError{Column: col, Message: fmt.Sprintf("must be at most %d characters of text", maxAttributeLen)})
				continue
			}
			row.attrs = append(row.attrs, bson.E{Key: "attributes." + col, Value: v})
		}
	}
	return row, errs
}

// importMember is what an import checks of a member.
type importMember struct {
	ID     string   `bson:"_id"`
	Email  string   `bson:"email"`
	Groups []string `bson:"groups"`
}

// membersByEmail maps the addresses among emails that belong to members
// to them (keyed reads by the unique email index, a page at a time).
func (sc Scope) membersByEmail(ctx context.Context, emails []string) (map[string]importMember, error) {
	out := map[string]importMember{}
	for chunk := range slices.Chunk(emails, 500) {
		var ms []importMember
		if err := sc.Collection(memberKind).Find(ctx, bson.D{{Key: "email", Value: bson.D{{Key: "$in", Value: chunk}}}}, &ms,
			options.Find().SetProjection(bson.D{{Key: "email", Value: 1}, {Key: "groups", Value: 1}})); err != nil {
			return nil, err
		}
		for _, m := range ms {
			out[m.Email] = m
		}
	}
	return out, nil
}
