/// The product's version: `pipeline --version`, and `producer_version` in every pack.
public enum PipelineVersion {
    public static let current = "0.1.0"
}
