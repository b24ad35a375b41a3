/// Which parts of two texts differ, token by token (a longest common subsequence): words for the
/// diff page's text cells (git's `--word-diff`: runs of non-space and the spaces between them) and
/// lines for schema definitions side by side.
enum TextDiff {
    /// A run of one side's text, and whether the other side lacks it.
    struct Part: Equatable, Sendable {
        var text: String
        var changed: Bool
    }

    /// Tokens per side beyond which a value is marked whole: the comparison is quadratic.
    static let tokenLimit = 400

    /// Both sides as parts, or nil when a word diff would not help: they share no word, one is
    /// a single word, or they are too long.
    static func words(_ old: String, _ new: String) -> (old: [Part], new: [Part])? {
        let a = wordTokens(old)
        let b = wordTokens(new)
        guard a.count > 1 || b.count > 1, a.count <= tokenLimit, b.count <= tokenLimit else { return nil }
        let (keptA, keptB) = common(a, b)
        // Sharing only spaces is sharing nothing.
        guard zip(a, keptA).contains(where: { $1 && !$0.allSatisfy(\.isWhitespace) }) else { return nil }
        return (parts(a, keptA), parts(b, keptB))
    }

    /// Both sides as lines (each with its line break), the lines the other side lacks marked.
    static func lines(_ old: String, _ new: String) -> (old: [Part], new: [Part]) {
        let a = lineTokens(old)
        let b = lineTokens(new)
        guard a.count <= tokenLimit * 2, b.count <= tokenLimit * 2 else {
            return (a.map { Part(text: String($0), changed: true) }, b.map { Part(text: String($0), changed: true) })
        }
        let (keptA, keptB) = common(a.map(trimmedLine), b.map(trimmedLine))
        return (zip(a, keptA).map { Part(text: String($0), changed: !$1) }, zip(b, keptB).map { Part(text: String($0), changed: !$1) })
    }

    /// Runs of whitespace and runs of anything else, which together are the whole text.
    static func wordTokens(_ text: String) -> [Substring] {
        var tokens: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let space = text[index].isWhitespace
            var end = text.index(after: index)
            while end < text.endIndex, text[end].isWhitespace == space { end = text.index(after: end) }
            tokens.append(text[start..<end])
            start = end
            index = end
        }
        return tokens
    }

    /// Lines, each with the line break that ends it.
    static func lineTokens(_ text: String) -> [Substring] {
        var lines: [Substring] = []
        var start = text.startIndex
        for index in text.indices where text[index] == "\n" {
            let next = text.index(after: index)
            lines.append(text[start..<next])
            start = next
        }
        if start < text.endIndex { lines.append(text[start...]) }
        return lines
    }

    /// A line compared without its break and trailing spaces (the last line has no break).
    static func trimmedLine(_ line: Substring) -> Substring {
        var end = line.endIndex
        while end > line.startIndex, line[line.index(before: end)].isWhitespace { end = line.index(before: end) }
        return line[line.startIndex..<end]
    }

    /// For each token of `a` and of `b`, whether it is in a longest common subsequence of the two.
    static func common(_ a: [Substring], _ b: [Substring]) -> ([Bool], [Bool]) {
        let n = a.count
        let m = b.count
        // lengths[i][j]: the longest common subsequence of a[i...] and b[j...], in one flat array.
        var lengths = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        let width = m + 1
        if n > 0 && m > 0 {
            for i in stride(from: n - 1, through: 0, by: -1) {
                for j in stride(from: m - 1, through: 0, by: -1) {
                    lengths[i * width + j] = a[i] == b[j]
                        ? lengths[(i + 1) * width + j + 1] + 1
                        : max(lengths[(i + 1) * width + j], lengths[i * width + j + 1])
                }
            }
        }
        var keptA = [Bool](repeating: false, count: n)
        var keptB = [Bool](repeating: false, count: m)
        var i = 0
        var j = 0
        while i < n && j < m {
            if a[i] == b[j] {
                keptA[i] = true
                keptB[j] = true
                i += 1
                j += 1
            } else if lengths[(i + 1) * width + j] >= lengths[i * width + j + 1] {
                i += 1
            } else {
                j += 1
            }
        }
        return (keptA, keptB)
    }

    /// Adjacent tokens of the same kind joined; a space between two changed words counts as changed,
    /// so a replaced phrase is one mark, not one per word.
    static func parts(_ tokens: [Substring], _ kept: [Bool]) -> [Part] {
        var changed = kept.map { !$0 }
        for index in tokens.indices where !changed[index] && tokens[index].allSatisfy(\.isWhitespace)
            && index > 0 && index + 1 < tokens.count && changed[index - 1] && changed[index + 1]
        {
            changed[index] = true
        }
        var parts: [Part] = []
        for (token, isChanged) in zip(tokens, changed) {
            if let last = parts.last, last.changed == isChanged {
                parts[parts.count - 1].text += token
            } else {
                parts.append(Part(text: String(token), changed: isChanged))
            }
        }
        return parts
    }
}
