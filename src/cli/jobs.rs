//! `netrare jobs list` and `netrare jobs show <id>`.

use super::plan::load_jobs;
use super::settings::Settings;

/// Job definitions.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// One line per job: id, detector, bucket span, rule.
    List,
    /// A job's full definition (job, model, datafeed, rule, kibana_rule) as TOML.
    Show {
        /// The job id.
        id: String,
    },
}

pub fn run(command: &Command, settings: &Settings) -> anyhow::Result<()> {
    match command {
        Command::List => {
            for job in load_jobs(settings, &[])? {
                let j = &job.file.job;
                let partition = j
                    .partition_field_name
                    .as_ref()
                    .map(|p| format!(" partition by {p}"))
                    .unwrap_or_default();
                println!(
                    "{:<45} {} by {}{partition}, {}, {} (threshold {}, {}, every {})",
                    j.id,
                    j.function.as_str(),
                    j.by_field_name,
                    humantime::format_duration(j.bucket_span.0),
                    job.file.rule.name,
                    job.file.rule.anomaly_threshold,
                    job.file.rule.from,
                    humantime::format_duration(job.file.rule.interval),
                );
            }
        }
        Command::Show { id } => {
            let jobs = load_jobs(settings, std::slice::from_ref(id))?;
            for job in jobs {
                println!("# {}", job.path.display());
                print!("{}", toml::to_string_pretty(&job.file)?);
            }
        }
    }
    Ok(())
}
