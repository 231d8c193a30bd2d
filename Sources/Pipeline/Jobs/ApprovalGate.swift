/// `use: approve`: a step where a job stops for a person's decision. Independent branches
/// finish first; then the job is `decision_needed` with one `decision-needed` checkpoint per
/// waiting gate, and resumes once each is approved (actor and reason recorded).
public enum ApprovalGate {
    public static let rule = "approve"

    /// The checkpoint text a gate asks with: `with: {summary, required_action}`.
    public static func request(for step: Step) -> (summary: String, requiredAction: String) {
        guard case .use(_, let with) = step.action else { return ("approve \(step.name)", "approve step \(step.name)") }
        let summary = with["summary"]?.stringValue ?? "approve \(step.name)"
        let action = with["required_action"]?.stringValue ?? "approve step \(step.name)"
        return (String(summary.prefix(Checkpoint.maximumSummaryBytes / 4)), action)
    }
}
