import Pipeline

/// What a run that stopped at `approve` steps tells the person who must decide.
enum Approvals {
    static func report(_ report: BuildReport, json: Bool) -> Int32 {
        let gates = report.summary.awaitingApproval
        let job = report.job.map(\.rawValue) ?? "<job>"
        var message = "job \(job) is waiting for approval at \(gates.map(\.name).joined(separator: ", "))"
        if let first = gates.first {
            let request = ApprovalGate.request(for: first)
            message += ": \(request.summary) (\(request.requiredAction))"
        }
        let hint = "pipeline job approve \(job) --actor NAME --reason TEXT, then pipeline job resume \(job)"
        ErrorReport.print(PipelineError(.approvalRequired, message, hint: hint), json: json)
        return ExitStatus.approvalRequired
    }
}
