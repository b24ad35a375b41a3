@testable import BranchConsole
import Testing

@Suite("Console SQL error places")
struct ConsoleSQLPlaceTests {
    @Test("a browser's CRLF line breaks do not shift the line and column of an error")
    func crlf() {
        let sql = SQLRunner.text("select 1;\r\nselect nosuchcolumn from items;")
        // Postgres' position of `nosuchcolumn` in the text it was sent (LF line breaks).
        let failure = ConsoleFailure(status: 422, code: "sql_failed", message: "column \"nosuchcolumn\" does not exist", position: 18)
        let place = SQLRunner.failure(failure, sql: sql)
        #expect(place.place == "line 2, column 8")
        #expect(place.excerpt == "select nosuchcolumn from items;\n       ^")
    }

    @Test("positions count code points, as Postgres does")
    func codePoints() {
        let sql = "select 'e\u{301}', nosuch"
        let failure = ConsoleFailure(status: 422, code: "sql_failed", message: "no", position: 15)
        #expect(SQLRunner.failure(failure, sql: sql).place == "line 1, column 15")
    }
}
