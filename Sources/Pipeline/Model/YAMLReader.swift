import CYAML

/// Builds `YAMLNode` trees from libyaml's event stream (faster than its document API).
///
/// Hostile input is bounded: nesting deeper than `maxDepth` is refused as soon as it is read
/// (libyaml's scanner is quadratic in the nesting of flow collections, and everything that
/// walks the tree recurses), and so is a document whose aliases expand to more than
/// `maxExpandedNodes` nodes (a "billion laughs": aliases share their nodes here, but whatever
/// walks the tree, such as `with:` → JSON, would visit every copy).
public enum YAMLReader {
    public static let maxDepth = 128
    public static let maxExpandedNodes = 1_000_000

    public static func read(_ bytes: [UInt8], file: String) throws -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw PipelineError(.internalError, "cannot initialize the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }

        return try bytes.withUnsafeBufferPointer { buffer -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var builder = Builder(file: file)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let mark = parser.problem_mark
                    let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
                    var message = problem
                    if let context = parser.context { message = "\(problem) \(String(cString: context))" }
                    throw PipelineError(.invalidInput, message,
                                        location: SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1),
                                        hint: YAMLReader.hint(for: bytes, line: Int(mark.line)))
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.handle(&event)
                if builder.documents > 1 {
                    throw PipelineError(.invalidInput, "only one YAML document is allowed", location: builder.location(event.start_mark))
                }
            }
            return builder.root
        }
    }

    /// `${var}` inside `[...]` or `{...}` reads as a flow mapping in YAML: say how to write it.
    static func hint(for bytes: [UInt8], line: Int) -> String? {
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard line < lines.count else { return nil }
        let text = String(decoding: lines[line], as: UTF8.self)
        if text.contains("${") && (text.contains("[") || text.contains("{ ")) {
            return "inside [ ] or { }, quote values that use ${var}: [\"${out}/app\"], or use a block list (- ${out}/app)"
        }
        return nil
    }

    /// A sequence or mapping still being read. A class, so appending never copies.
    private final class OpenCollection {
        let isMapping: Bool
        let start: SourceLocation
        let anchor: String?
        /// Nodes this collection stands for, aliases expanded: itself and its children's.
        var expandedNodes = 1
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?

        init(isMapping: Bool, start: SourceLocation, anchor: String?) {
            self.isMapping = isMapping
            self.start = start
            self.anchor = anchor
        }
    }

    private struct Builder {
        let file: String
        var stack: [OpenCollection] = []
        var anchors: [String: (node: YAMLNode, expandedNodes: Int)] = [:]
        var root: YAMLNode?
        var documents = 0

        init(file: String) { self.file = file }

        func location(_ mark: yaml_mark_t) -> SourceLocation {
            SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        }

        static func string(_ pointer: UnsafeMutablePointer<UInt8>?) -> String? {
            guard let pointer else { return nil }
            return String(cString: pointer)
        }

        mutating func handle(_ event: inout yaml_event_t) throws {
            let loc = location(event.start_mark)
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
            case YAML_SCALAR_EVENT:
                let data = event.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
                let node = YAMLNode.scalar(text, plain: data.style == YAML_PLAIN_SCALAR_STYLE, loc)
                if let anchor = Builder.string(data.anchor) { anchors[anchor] = (node, 1) }
                try add(node, expandedNodes: 1, at: loc)
            case YAML_ALIAS_EVENT:
                let name = Builder.string(event.data.alias.anchor) ?? ""
                guard let (node, expandedNodes) = anchors[name] else {
                    throw PipelineError(.invalidInput, "unknown alias *\(name)", location: loc)
                }
                try add(node, expandedNodes: expandedNodes, at: loc)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                guard stack.count < YAMLReader.maxDepth else {
                    throw PipelineError(.invalidInput, "nesting deeper than \(YAMLReader.maxDepth) levels", location: loc)
                }
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                stack.append(OpenCollection(isMapping: isMapping, start: loc, anchor: Builder.string(anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let open = stack.popLast() else { return }
                let node: YAMLNode = open.isMapping ? .mapping(open.pairs, open.start) : .sequence(open.items, open.start)
                if let anchor = open.anchor { anchors[anchor] = (node, open.expandedNodes) }
                try add(node, expandedNodes: open.expandedNodes, at: open.start)
            default:
                break
            }
        }

        mutating func add(_ node: YAMLNode, expandedNodes: Int, at loc: SourceLocation) throws {
            guard let top = stack.last else {
                root = node
                return
            }
            top.expandedNodes += expandedNodes
            guard top.expandedNodes <= YAMLReader.maxExpandedNodes else {
                throw PipelineError(.invalidInput, "the aliases expand to more than \(YAMLReader.maxExpandedNodes) nodes", location: loc)
            }
            if !top.isMapping {
                top.items.append(node)
            } else if let key = top.pendingKey {
                top.pairs.append((key, node))
                top.pendingKey = nil
            } else {
                guard node.scalar != nil else {
                    throw PipelineError(.invalidInput, "mapping keys must be plain strings", location: loc)
                }
                top.pendingKey = node
            }
        }
    }
}
