package models

import "gorm.io/gorm"

// Page asks for one page of a list ordered by id: at most Limit items with
// id greater than After.
type Page struct {
	Limit int
	After string
}

// paginate applies p to q and returns a function that trims the fetched
// rows to the page and reports the cursor for the next one ("" at the end).
func paginate[T any](q *gorm.DB, p Page, id func(*T) string) (*gorm.DB, func([]T) ([]T, string)) {
	if p.Limit <= 0 {
		p.Limit = 50
	}
	if p.After != "" {
		q = q.Where("id > ?", p.After)
	}
	q = q.Order("id").Limit(p.Limit + 1)
	return q, func(rows []T) ([]T, string) {
		if len(rows) <= p.Limit {
			return rows, ""
		}
		rows = rows[:p.Limit]
		return rows, id(&rows[len(rows)-1])
	}
}

// take loads the one row q finds, ErrNotFound when there is none.
func take[T any](q *gorm.DB) (*T, error) {
	var v T
	if err := q.Take(&v).Error; err != nil {
		return nil, notFound(err)
	}
	return &v, nil
}

// takeLoaded is take, then load (the rows' door ids) on the row found.
func takeLoaded[T any](q *gorm.DB, load func([]*T) error) (*T, error) {
	v, err := take[T](q)
	if err != nil {
		return nil, err
	}
	if err := load([]*T{v}); err != nil {
		return nil, err
	}
	return v, nil
}

// listLoaded is listPage, then load (the rows' door ids) on the page.
func listLoaded[T any](q *gorm.DB, p Page, id func(*T) string, load func([]*T) error) ([]T, string, error) {
	rows, next, err := listPage(q, p, id)
	if err != nil {
		return nil, "", err
	}
	ptrs := make([]*T, len(rows))
	for i := range rows {
		ptrs[i] = &rows[i]
	}
	if err := load(ptrs); err != nil {
		return nil, "", err
	}
	return rows, next, nil
}

// whereSet narrows q to the rows whose column equals v, when v is set (a
// list filter's field; "" means any).
func whereSet(q *gorm.DB, column, v string) *gorm.DB {
	if v == "" {
		return q
	}
	return q.Where(column+" = ?", v)
}

// listPage fetches one page of q's rows and the cursor of the next page.
func listPage[T any](q *gorm.DB, p Page, id func(*T) string) ([]T, string, error) {
	q, trim := paginate(q, p, id)
	var rows []T
	if err := q.Find(&rows).Error; err != nil {
		return nil, "", err
	}
	rows, next := trim(rows)
	return rows, next, nil
}
