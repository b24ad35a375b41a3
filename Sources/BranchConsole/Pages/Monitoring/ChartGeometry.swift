package import Foundation

/// The coordinates of a server-rendered line chart: samples (time, value or nil for a gap) in a
/// time window become an SVG path in a `width`×`height` box, with a y scale rounded up to a
/// "nice" maximum and its gridlines. Pure, so it is unit-tested (ConsoleChartTests); the template
/// writes the markup and monitoring.js extends the same path with live samples.
package struct ChartGeometry: Sendable, Equatable {
    package struct Point: Sendable, Equatable {
        package var at: Date
        package var value: Double?

        package init(at: Date, value: Double?) {
            self.at = at
            self.value = value
        }
    }

    package struct Gridline: Sendable, Equatable {
        package var y: Double
        package var label: String
    }

    package var width: Double
    package var height: Double
    /// The top of the y scale (the bottom is 0).
    package var maximum: Double
    /// `M x y L x y …`; a gap (nil value) starts a new `M`.
    package var path: String
    package var gridlines: [Gridline]
    package var isEmpty: Bool

    /// `floor`: the least y maximum (an idle branch's chart is not scaled to noise); `scale`: a
    /// given y maximum instead (several lines on one chart); `format` writes the gridline labels.
    package init(
        points: [Point], from start: Date, to end: Date, width: Double = 600, height: Double = 160, floor: Double = 1,
        scale: Double? = nil, binary: Bool = false, format: (Double) -> String = { ChartGeometry.compact($0) }
    ) {
        self.width = width
        self.height = height
        let values = points.filter { $0.at >= start && $0.at <= end }.compactMap(\.value)
        let top = max(values.max() ?? 0, floor)
        maximum = scale ?? (binary ? Self.binaryCeiling(top) : Self.niceCeiling(top))
        isEmpty = values.isEmpty
        let span = max(end.timeIntervalSince(start), 1)
        var commands: [String] = []
        var drawing = false
        for point in points.sorted(by: { $0.at < $1.at }) {
            guard let value = point.value, point.at >= start, point.at <= end else {
                drawing = false
                continue
            }
            let x = point.at.timeIntervalSince(start) / span * width
            let y = height - min(max(value, 0), maximum) / maximum * height
            commands.append("\(drawing ? "L" : "M")\(Self.coordinate(x)) \(Self.coordinate(y))")
            drawing = true
        }
        path = commands.joined(separator: " ")
        let maximum = maximum
        gridlines = (0...4).map { step in
            let value = maximum * Double(step) / 4
            return Gridline(y: Double(height) - value / maximum * height, label: format(value))
        }
    }

    /// The smallest 1, 2, 2.5 or 5 × 10ⁿ at least `value`.
    package static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value * (1 - 1e-12) {
            return step * magnitude
        }
        return 10 * magnitude
    }

    /// The smallest power of two at least `value` (bytes: 1 KiB, 2 KiB, … so the quarter gridlines read well).
    package static func binaryCeiling(_ value: Double) -> Double {
        guard value > 1, value.isFinite else { return 1 }
        return pow(2, ceil(log2(value)))
    }

    /// One decimal at most, no trailing ".0".
    package static func coordinate(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }

    /// 1.5k, 2M, 0.25.
    package static func compact(_ value: Double) -> String {
        switch abs(value) {
        case 1e9...: String(format: "%gG", (value / 1e9 * 10).rounded() / 10)
        case 1e6...: String(format: "%gM", (value / 1e6 * 10).rounded() / 10)
        case 1e3...: String(format: "%gk", (value / 1e3 * 10).rounded() / 10)
        default: String(format: "%g", (value * 100).rounded() / 100)
        }
    }
}
