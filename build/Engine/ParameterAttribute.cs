namespace FairNad.Build.Engine;

/// <summary>
/// Marks a field or property of the build as a parameter. Values resolve in Nuke's order: command line
/// (<c>--dataset cifar100</c>) &gt; environment variable &gt; <c>.nuke/parameters[.profile].json</c> &gt; the initializer.
/// </summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class ParameterAttribute(string description) : Attribute
{
    /// <summary>One sentence shown by <c>--help</c> and written to <c>.nuke/build.schema.json</c>.</summary>
    public string Description { get; } = description;

    /// <summary>The parameter's name when it differs from the member's name.</summary>
    public string? Name { get; init; }
}
