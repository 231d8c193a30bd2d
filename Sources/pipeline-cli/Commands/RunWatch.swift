import Executors
import Glibc
import Pipeline

extension Run {
    /// `pipeline run --watch`: builds, then builds again after every change to an input or
    /// the Pipelinefile, until Ctrl-C or SIGTERM (exit 130). A failing cycle does not end it.
    func watchForChanges(printer: EventPrinter, environment: [String: String]) throws -> Never {
        let workspace = try workspaceOptions.workspace(environment)
        // Signals are blocked from here on: the watcher reads them while idle, each cycle's
        // executor while it builds.
        let watcher = try Watcher(workspace: workspace, targets: targets)
        let renderer = WatchPrinter(json: workspaceOptions.json, workspace: workspace)
        try watcher.run(
            makeEngine: { try makeEngine(workspace: workspace, printer: printer, environment: environment) },
            build: { engine in
                let executor = LocalExecutor(handlesSignals: true)
                var report = try build(engine, executor: executor)
                // An interrupt that came too late to stop anything still ends watch mode.
                if report.failure == nil, executor.interruptSignal != 0 { report.failure = .interrupted }
                return report
            },
            report: renderer.render)
        renderer.stopped()
        Glibc.exit(ExitStatus.interrupted)
    }
}
