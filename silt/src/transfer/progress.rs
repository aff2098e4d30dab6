//! Progress bars: collections done and records done (with rate and ETA). Drawn only on a
//! terminal and without `--quiet`, so logs and pipes get the final summary alone.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    collections: ProgressBar,
    records: ProgressBar,
}

impl Progress {
    pub fn new(quiet: bool, collections: u64) -> Progress {
        let visible = !quiet && std::io::stdout().is_terminal();
        let multi = MultiProgress::with_draw_target(if visible {
            ProgressDrawTarget::stdout()
        } else {
            ProgressDrawTarget::hidden()
        });
        let collections = multi.add(ProgressBar::new(collections));
        collections.set_style(style("collections {pos}/{len} {wide_msg}"));
        let records = multi.add(ProgressBar::new(0));
        records.set_style(style(
            "records {bar:30} {human_pos}/{human_len} {per_sec} ETA {eta}",
        ));
        if visible {
            records.enable_steady_tick(Duration::from_millis(200));
        }
        Progress {
            collections,
            records,
        }
    }

    /// A collection of `total` records begins, `done` of which were copied by an earlier run.
    pub fn start_collection(&self, name: &str, total: u64, done: u64) {
        self.collections.set_message(name.to_string());
        self.records.inc_length(total.saturating_sub(done));
    }

    pub fn records(&self, n: u64) {
        self.records.inc(n);
    }

    pub fn collection_done(&self) {
        self.collections.inc(1);
    }

    pub fn finish(&self) {
        self.records.finish_and_clear();
        self.collections.finish_and_clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a typo would show as a plain bar.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}
