import ArgumentParser
import Pipeline

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Write a commented starter Pipelinefile.yaml here.")

    @Option(name: .customShort("C"), help: "Write it in DIR.")
    var directory: String?

    @Flag(help: "Replace an existing Pipelinefile.yaml.")
    var force = false

    static let starter = """
        # yaml-language-server: $schema=pipelinefile.schema.json
        # (editors validate this file with `pipeline schema > pipelinefile.schema.json`)
        pipeline: 1                      # format version

        vars: { out: build }             # ${out} below means "build"
        default: [all]                   # what a bare `pipeline run` builds

        steps:
          greet:
            description: write a greeting
            run: mkdir -p ${out} && echo "hello from pipeline" > ${out}/hello.txt
            outputs: ["${out}/hello.txt"]   # quoted: inside [ ], ${ would start a YAML mapping

          count:
            needs: [greet]               # runs after greet; greet's outputs are its inputs
            run: wc -c < ${out}/hello.txt > ${out}/count.txt
            outputs: ["${out}/count.txt"]

          all:
            needs: [count]               # only needs: an alias for a group of steps

        # Also: inputs (globs), env, secrets, timeout, cache: false, use: approve | pack |
        # sign | capture | replay, retention: and cache: (see the README).

        """

    func run() throws {
        let cwd = FileSystem.currentDirectory()
        let folder = directory.map { Path.join(cwd, $0) } ?? cwd
        let path = folder + "/Pipelinefile.yaml"
        if FileSystem.exists(path) && !force {
            throw PipelineError(.confirmationRequired, "\(path) exists; pipeline init never replaces it without --force", path: path)
        }
        try Materializer.writeAtomically(Array(InitCommand.starter.utf8), to: path)
        Output.line("wrote \(path); try `pipeline run`")
    }
}
