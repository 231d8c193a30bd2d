import ArgumentParser
import Glibc
import Pipeline

// Parse, run one command, map what went wrong to a stable exit status.
// Over a file size limit (ulimit -f), a write fails with EFBIG and is reported like any I/O
// error, instead of SIGXFSZ killing the process half-way (commands get the default back).
signal(SIGXFSZ, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
do {
    var command = try PipelineCommand.parseAsRoot(arguments)
    try command.run()
    exit(0)
} catch let exit as CommandExit {
    Glibc.exit(exit.status)
} catch let error as PipelineError {
    ErrorReport.print(error, json: arguments.contains("--json"))
    exit(ExitStatus.of(error.code))
} catch {
    let status = PipelineCommand.exitCode(for: error)
    if status == .success {
        print(PipelineCommand.fullMessage(for: error))
        exit(0)
    }
    let message = PipelineCommand.fullMessage(for: error)
    ErrorReport.print(PipelineError(.invalidInput, message), json: arguments.contains("--json"), usage: true)
    exit(ExitStatus.usage)
}
